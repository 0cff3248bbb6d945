package enginetest

import (
	"os"
	"testing"
)

// RequireDisplayEnv, when set to 1 (as `make test` does), turns a missing
// display into a test failure instead of a skip, so CI cannot pass by
// skipping the GL tests.
const RequireDisplayEnv = "SKYLOOP_REQUIRE_DISPLAY"

// RequireDisplay skips t, with a message saying how to run it, when there is
// no X display — or fails it when RequireDisplayEnv=1.
func RequireDisplay(t testing.TB) {
	t.Helper()
	if os.Getenv("DISPLAY") != "" {
		return
	}
	const msg = "no DISPLAY: this test opens an OpenGL window; run `make test` (it starts Xvfb) or `xvfb-run -s '-screen 0 2048x1152x24' go test ...`"
	if os.Getenv(RequireDisplayEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

// The conformance suite through a real plugin process: the binary built
// from this package, launched by the host side of the sdk (handshake,
// AutoMTLS, settings, chunked gRPC streams), one process per check.
func TestConformanceOutOfProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "skyloop-plugin-disk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	synctest.Run(t, func(t *testing.T) sdk.Backend {
		c, err := sdk.Launch(context.Background(), sdk.LaunchOptions{Path: bin, Settings: map[string]string{"root": t.TempDir()}, Stderr: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}

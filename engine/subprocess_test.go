package engine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
)

// TestMain doubles as a subprocess helper: with SKYLOOP_ENGINE_HELPER set,
// the test binary runs that helper instead of the tests, so the real tests
// can watch a process's exit status and output.
func TestMain(m *testing.M) {
	switch os.Getenv("SKYLOOP_ENGINE_HELPER") {
	case "run":
		err := Run(nopGame{}, Options{MaxFrames: 1, CaptureOff: true, Headless: HeadlessOff})
		fmt.Printf("RUN RESULT: %v\n", err)
		os.Exit(0)
	case "kill":
		runKillHelper()
		os.Exit(0)
	case "flags":
		MustParseFlags("game", strings.Fields(os.Getenv("SKYLOOP_ENGINE_ARGS")))
		fmt.Println("FLAGS OK")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type nopGame struct{}

func (nopGame) Update(*input.State) error  { return nil }
func (nopGame) Draw(*gfx.Canvas)           {}
func (nopGame) Layout(int, int) (int, int) { return 64, 64 }

func runHelper(t *testing.T, env ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestRunWithoutDisplayReturnsClearError(t *testing.T) {
	out, code := runHelper(t, "SKYLOOP_ENGINE_HELPER=run", "DISPLAY=", "WAYLAND_DISPLAY=")
	if code != 0 || strings.Contains(out, "panic") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	if !strings.Contains(out, "RUN RESULT: engine: no display: set DISPLAY or run under xvfb-run") {
		t.Fatalf("missing the no-display error, output:\n%s", out)
	}
}

func TestRunWithDeadDisplayReturnsError(t *testing.T) {
	out, code := runHelper(t, "SKYLOOP_ENGINE_HELPER=run", "DISPLAY=:4242", "WAYLAND_DISPLAY=")
	if code != 0 || strings.Contains(out, "panic:") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	if !strings.Contains(out, "RUN RESULT: engine:") || strings.Contains(out, "RUN RESULT: <nil>") {
		t.Fatalf("want an engine error naming the display, output:\n%s", out)
	}
}

func TestBadFlagExitsWithStatus2(t *testing.T) {
	out, code := runHelper(t, "SKYLOOP_ENGINE_HELPER=flags", "SKYLOOP_ENGINE_ARGS=-size 12")
	if code != 2 || !strings.Contains(out, "-size: want WIDTHxHEIGHT") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	out, code = runHelper(t, "SKYLOOP_ENGINE_HELPER=flags", "SKYLOOP_ENGINE_ARGS=-size 320x200 -frames 5")
	if code != 0 || !strings.Contains(out, "FLAGS OK") {
		t.Fatalf("good flags: exit %d, output:\n%s", code, out)
	}
}

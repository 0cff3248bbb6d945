package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// testDir holds what TestMain builds (plugins, the sample game) and the
// recorded session, shared by the tests of this package.
var testDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "skyloop-tool-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	// Hermetic: no player's config file or $SKYLOOP_CONFIG is picked up by
	// a test that passes no --config, and stdin is not a terminal (delete
	// and prune do not wait for an answer).
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config-home"))
	os.Unsetenv("SKYLOOP_CONFIG")
	stdin = strings.NewReader("")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// recording is a session recorded by the real breakout binary under the
// display, through the spool to the real disk plugin.
type recording struct {
	Config    string // config file naming the disk sink
	Root      string // the disk sink's root
	PluginDir string
	Ref       string // GAME/PLAYER/SESSION
	Frames    int
	Width     int
	Height    int
}

var (
	recordOnce sync.Once
	recorded   recording
	recordErr  error
)

const recordedFrames = 90

// recordedSession records (once per test binary) 90 frames of breakout,
// -autoplay -seed 1 -lockstep, in segments of 30 frames.
func recordedSession(t *testing.T) recording {
	t.Helper()
	enginetest.RequireDisplay(t)
	recordOnce.Do(func() { recorded, recordErr = record() })
	if recordErr != nil {
		t.Fatal(recordErr)
	}
	return recorded
}

func record() (recording, error) {
	bin := filepath.Join(testDir, "bin")
	out, err := exec.Command("go", "build", "-o", bin+"/",
		"github.com/skyloop-engine/skyloop/games/breakout",
		"github.com/skyloop-engine/skyloop/plugins/disk").CombinedOutput()
	if err != nil {
		return recording{}, fmt.Errorf("build breakout and the disk plugin: %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(bin, "disk"), filepath.Join(bin, "skyloop-plugin-disk")); err != nil {
		return recording{}, err
	}
	root := filepath.Join(testDir, "sink")
	cfg := writeConfig(filepath.Join(testDir, "record.toml"), root, bin)
	cmd := exec.Command(filepath.Join(bin, "breakout"), "-autoplay", "-seed", "1", "-lockstep", "-vsync=false",
		"-frames", fmt.Sprint(recordedFrames), "-size", "320x240", "-config", cfg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return recording{}, fmt.Errorf("record breakout: %v\n%s", err, out)
	}
	sessions, err := filepath.Glob(filepath.Join(root, "breakout", "tester", "sessions", "*"))
	if err != nil || len(sessions) != 1 {
		return recording{}, fmt.Errorf("want one recorded session under %s, found %v (%v)", root, sessions, err)
	}
	rec := recording{Config: cfg, Root: root, PluginDir: bin, Ref: "breakout/tester/" + filepath.Base(sessions[0])}
	frames, err := decodeStored(rec)
	if err != nil {
		return recording{}, err
	}
	if len(frames) != recordedFrames {
		return recording{}, fmt.Errorf("recorded %d frames, want %d", len(frames), recordedFrames)
	}
	rec.Frames = len(frames)
	rec.Width, rec.Height = frames[0].Image.Rect.Dx(), frames[0].Image.Rect.Dy()
	return rec, nil
}

// writeConfig writes a config with one disk sink at root; the spool and
// plugin directories are beside it.
func writeConfig(path, root, pluginDir string) string {
	body := fmt.Sprintf(`player = "tester"
plugin_dir = %q
spool_dir = %q
exit_wait_seconds = 30
[capture]
segment_frames = 30
drop = "block"  # a loaded test machine must not drop frames: the tests expect all 90
[[sink]]
name = "local"
plugin = "disk"
[sink.settings]
root = %q
`, pluginDir, filepath.Join(filepath.Dir(path), "spool-"+filepath.Base(path)), root)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		panic(err)
	}
	return path
}

// decodeStored decodes the recorded session straight from the disk sink's
// files with engine/segment, independently of the tool: the reference the
// tool's output is compared with.
func decodeStored(rec recording) ([]segment.Frame, error) {
	k := strings.Split(rec.Ref, "/")
	files, err := filepath.Glob(filepath.Join(rec.Root, k[0], k[1], "sessions", k[2], "*.seg"))
	if err != nil {
		return nil, err
	}
	var frames []segment.Frame
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		fs, err := segment.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		frames = append(frames, fs...)
	}
	return frames, nil
}

// runTool runs the skyloop command line in-process.
func runTool(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return o.String(), e.String(), code
}

var (
	toolOnce sync.Once
	toolBin  string
	toolErr  error
)

// buildTool builds the skyloop binary itself (CGO_ENABLED=0, as shipped),
// for tests that need it as a process: it is its own benchmark plugin.
func buildTool(t *testing.T) string {
	t.Helper()
	toolOnce.Do(func() {
		toolBin = filepath.Join(testDir, "skyloop")
		cmd := exec.Command("go", "build", "-o", toolBin, "github.com/skyloop-engine/skyloop/tools/skyloop")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			toolErr = fmt.Errorf("build skyloop with CGO_ENABLED=0: %v\n%s", err, out)
		}
	})
	if toolErr != nil {
		t.Fatal(toolErr)
	}
	return toolBin
}

// runBinary runs bin with args and returns its stdout; a non-zero exit fails t.
func runBinary(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", bin, strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String()
}

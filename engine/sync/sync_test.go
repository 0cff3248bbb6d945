package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

var pluginDir string

// TestMain builds the real disk plugin once. With SKYLOOP_SYNC_HELPER set
// the binary is instead a host process for TestHostKilledMidRun.
func TestMain(m *testing.M) {
	if os.Getenv("SKYLOOP_SYNC_HELPER") != "" {
		helperHost()
		return
	}
	dir, err := os.MkdirTemp("", "skyloop-sync-test")
	if err != nil {
		panic(err)
	}
	pluginDir = dir
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, BinaryPrefix+"disk"), "github.com/skyloop-engine/skyloop/plugins/disk").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the disk plugin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func startDisk(t *testing.T, root string) *Sink {
	t.Helper()
	s, err := Start(context.Background(), SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": root}},
		Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFindPlugin(t *testing.T) {
	p, err := FindPlugin("disk", pluginDir)
	if err != nil || filepath.Base(p) != "skyloop-plugin-disk" {
		t.Fatalf("FindPlugin: %q %v", p, err)
	}
	_, err = FindPlugin("nosuch", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "skyloop-plugin-nosuch") {
		t.Fatalf("missing plugin error: %v", err)
	}
}

func TestStartErrorsNameTheSink(t *testing.T) {
	_, err := Start(context.Background(), SinkConfig{Name: "cloud", Plugin: "disk", Dirs: []string{pluginDir}, SHA256: strings.Repeat("0", 64), Settings: map[string]string{"root": t.TempDir()}}, Options{})
	if err == nil || !strings.Contains(err.Error(), `sink "cloud"`) || !strings.Contains(strings.ToLower(err.Error()), "sha-256") && !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("checksum mismatch: %v", err)
	}
	_, err = Start(context.Background(), SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"rot": "/x"}}, Options{})
	if err == nil || !errors.Is(err, sdk.ErrInvalidSettings) || !strings.Contains(err.Error(), `"rot"`) {
		t.Fatalf("bad settings: %v", err)
	}
}

// A plugin that dies while idle is relaunched by the health check, before
// anything needs it.
func TestHealthCheckRelaunchesIdlePlugin(t *testing.T) {
	s, err := Start(context.Background(), SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": t.TempDir()}},
		Options{MinBackoff: 20 * time.Millisecond, HealthInterval: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pid := s.Pid()
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for s.Restarts() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle plugin not relaunched")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p := s.Pid(); p == pid || p == 0 {
		t.Fatalf("pid %d after relaunch (was %d)", p, pid)
	}
}

// A plugin SIGKILLed between calls is relaunched; the call that meets the
// dead process fails as retryable, and later calls succeed.
func TestCrashedPluginIsRelaunched(t *testing.T) {
	root := t.TempDir()
	s := startDisk(t, root)
	ctx := context.Background()
	if _, err := s.Put(ctx, "g/p/a", strings.NewReader("one"), sdk.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	pid := s.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Put(ctx, "g/p/b", strings.NewReader("two"), sdk.PutOptions{Size: -1})
		if err == nil {
			break
		}
		if !sdk.IsRetryable(err) {
			t.Fatalf("a crash must surface as retryable, got %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not relaunched: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.Restarts() != 1 || s.Pid() == pid || s.Pid() == 0 {
		t.Fatalf("restarts %d, pid %d (was %d)", s.Restarts(), s.Pid(), pid)
	}
	for key, want := range map[string]string{"g/p/a": "one", "g/p/b": "two"} {
		var buf bytes.Buffer
		if _, err := s.Get(ctx, key, &buf, sdk.GetOptions{Length: -1}); err != nil || buf.String() != want {
			t.Fatalf("%s = %q, %v", key, buf.String(), err)
		}
	}
	// The old process is gone (reaped), and Close stops the new one.
	newPid := s.Pid()
	s.Close()
	s.Close()
	time.Sleep(100 * time.Millisecond)
	if syscall.Kill(newPid, 0) == nil {
		t.Fatalf("plugin %d still running after Close", newPid)
	}
}

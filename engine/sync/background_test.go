package sync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/sdk"
)

// go install …/plugins/disk names the binary "disk" in Go's bin dir; it is
// found there, and a skyloop-plugin-disk beside it is preferred.
func TestFindPluginInGoBin(t *testing.T) {
	gobin := t.TempDir()
	t.Setenv("GOBIN", gobin)
	t.Setenv("PATH", t.TempDir())
	data, err := os.ReadFile(filepath.Join(pluginDir, BinaryPrefix+"disk"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FindPlugin("disk"); !errors.Is(err, ErrPluginNotFound) || !strings.Contains(err.Error(), gobin) {
		t.Fatalf("empty GOBIN: %v, want ErrPluginNotFound naming %s", err, gobin)
	}
	if err := os.WriteFile(filepath.Join(gobin, "disk"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := FindPlugin("disk"); err != nil || p != filepath.Join(gobin, "disk") {
		t.Fatalf("FindPlugin = %q, %v; want the go-installed %s", p, err, filepath.Join(gobin, "disk"))
	}
	if err := os.WriteFile(filepath.Join(gobin, BinaryPrefix+"disk"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := FindPlugin("disk"); err != nil || filepath.Base(p) != BinaryPrefix+"disk" {
		t.Fatalf("FindPlugin = %q, %v; want %s first", p, err, BinaryPrefix+"disk")
	}
	// And the sink really runs it.
	s, err := Start(context.Background(), SinkConfig{Name: "local", Plugin: "disk", Settings: map[string]string{"root": t.TempDir()}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Where() != filepath.Join(gobin, BinaryPrefix+"disk") {
		t.Errorf("Where = %q", s.Where())
	}
}

// With no binary anywhere, the disk plugin is served by this executable
// (the test binary links engine/sync, whose init serves it) in a process
// of its own.
func TestBuiltinDiskPlugin(t *testing.T) {
	t.Setenv("GOBIN", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	root := t.TempDir()
	s, err := Start(context.Background(), SinkConfig{Name: "local", Plugin: "disk", Settings: map[string]string{"root": root}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.Where(), "built-in disk plugin") || s.Pid() == os.Getpid() || s.Pid() == 0 {
		t.Fatalf("Where = %q, pid %d (this process %d): want the built-in plugin in a child process", s.Where(), s.Pid(), os.Getpid())
	}
	if _, err := s.Put(context.Background(), "g/p/sessions/s/00000000.seg", strings.NewReader("frames"), sdk.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "g/p/sessions/s/00000000.seg")); err != nil || string(got) != "frames" {
		t.Fatalf("stored %q, %v", got, err)
	}
	if _, err := FindPlugin("s3"); !errors.Is(err, ErrPluginNotFound) {
		t.Fatalf("s3 has no built-in: %v", err)
	}
	if _, err := StartBackground(SinkConfig{Name: "cloud", Plugin: "s3"}, Options{}); !errors.Is(err, ErrPluginNotFound) {
		t.Fatalf("StartBackground of a missing, non-built-in plugin = %v, want ErrPluginNotFound", err)
	}
}

// Rejected settings are a permanent verdict; calls meanwhile fail as
// retryable (the spool keeps the item), and Close is idempotent.
func TestStartBackgroundInvalidSettings(t *testing.T) {
	s, err := StartBackground(SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"rot": "/x"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.Wait(ctx)
	if !errors.Is(err, sdk.ErrInvalidSettings) || !Permanent(err) {
		t.Fatalf("Wait = %v, want a permanent invalid-settings error", err)
	}
	if _, err := s.Put(ctx, "k", strings.NewReader("x"), sdk.PutOptions{}); !sdk.IsRetryable(err) || !strings.Contains(err.Error(), `"rot"`) {
		t.Fatalf("Put on a sink whose settings were refused = %v, want retryable, naming the problem", err)
	}
	if s.Up() {
		t.Fatal("Up after refused settings")
	}
	s.Close()
	s.Close()
}

// An S3 sink whose server is down starts at once, answers retryably while
// down, and comes up by itself, with backoff, once the server is back —
// saying so once in the log.
func TestStartBackgroundUnreachableThenUp(t *testing.T) {
	srv := enginetest.StartS3Server(t)
	srv.Stop()
	var logs enginetest.LogBuffer
	s, err := StartBackground(SinkConfig{Name: "cloud", Plugin: "s3", Dirs: []string{enginetest.BuildPlugin(t, "s3")}, Settings: map[string]string{
		"bucket": srv.Bucket, "endpoint": srv.Endpoint, "access_key_id": srv.Access, "secret_access_key": srv.Secret,
	}}, Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: logger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = s.Wait(ctx)
	if err == nil || Permanent(err) || !strings.Contains(err.Error(), "cannot reach endpoint") {
		t.Fatalf("Wait = %v, want a retryable unreachable-endpoint error", err)
	}
	if _, err := s.Put(ctx, "k", strings.NewReader("x"), sdk.PutOptions{}); !sdk.IsRetryable(err) {
		t.Fatalf("Put while down = %v, want retryable", err)
	}
	srv.Restart(t)
	for !s.Up() {
		select {
		case <-ctx.Done():
			t.Fatal("the sink did not come up after the server restarted")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := s.Put(ctx, "g/p/sessions/s/00000000.seg", strings.NewReader("frames"), sdk.PutOptions{}); err != nil {
		t.Fatalf("Put once up: %v", err)
	}
	var got bytes.Buffer
	if _, err := s.Get(ctx, "g/p/sessions/s/00000000.seg", &got, sdk.GetOptions{}); err != nil || got.String() != "frames" {
		t.Fatalf("Get = %q, %v", got.String(), err)
	}
	if n := strings.Count(logs.String(), "sink is up"); n != 1 {
		t.Errorf("%d \"sink is up\" lines, want 1:\n%s", n, logs.String())
	}
}

// Closing a sink whose first launch is still running stops it; nothing is
// left running.
func TestCloseWhileStarting(t *testing.T) {
	s, err := StartBackground(SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": t.TempDir()}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hung while the sink was starting")
	}
	if s.Up() || s.Pid() != 0 {
		t.Fatalf("after Close: up %v, pid %d", s.Up(), s.Pid())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Wait(ctx); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("Wait blocks after Close")
	}
	if _, err := s.Put(ctx, "k", strings.NewReader("x"), sdk.PutOptions{}); err == nil {
		t.Fatal("Put after Close succeeded")
	}
}

func logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

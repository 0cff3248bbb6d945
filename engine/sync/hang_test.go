//go:build linux

package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/spool"
	"github.com/skyloop-engine/skyloop/sdk"
)

// hangSlack is what a bounded call may take beyond its bound on a loaded
// 2-core machine: a hang is what is tested, not speed.
const hangSlack = 3 * time.Second

// stopPluginForTest SIGSTOPs the disk plugin process pid and, at cleanup,
// SIGCONTs and SIGKILLs it if it is still that plugin (never a reused pid).
func stopPluginForTest(t *testing.T, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Fatal("no plugin pid")
	}
	exe := []byte(filepath.Join(pluginDir, BinaryPrefix+"disk"))
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %d: %v", pid, err)
	}
	t.Cleanup(func() {
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.HasPrefix(cmd, exe) {
			syscall.Kill(pid, syscall.SIGCONT)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for !stopped(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin %d not stopped", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func stopped(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'T'
}

// reaped: kill(pid, 0) finds nothing, not even a zombie.
func reaped(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// A plugin SIGSTOPped with a Put in flight: its health check times out,
// the process is killed (and reaped) and relaunched under a new pid, said
// in one log line; the Put that was in flight fails as retryable, the
// spool retries it, and it lands in the store with the bytes accepted.
func TestHangPluginIsKilledAndRelaunched(t *testing.T) {
	root := t.TempDir()
	logs := &enginetest.LogBuffer{}
	s, err := Start(context.Background(), SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": root}},
		Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			HealthInterval: 100 * time.Millisecond, HealthTimeout: 500 * time.Millisecond, Logger: logger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	pid := s.Pid()
	stopPluginForTest(t, pid)

	sp, err := spool.Open(t.TempDir(), []spool.Sink{s}, spool.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: logger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close(context.Background()) })
	ctx := context.Background()
	key := "g/p/sessions/s/00000000.seg"
	data := bytes.Repeat([]byte("a segment held up by a stopped plugin;"), 8<<10) // ~300 KiB: the shared-memory path
	if err := sp.Accept(ctx, spool.Item{Key: key, Kind: spool.KindSegment, Data: data}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := sp.Stats().Sinks[0]
		if st.Pending == 0 {
			if st.Parked != 0 {
				t.Fatalf("item parked: %+v", sp.Failed())
			}
			if st.Retries < 1 {
				t.Errorf("delivered without a retry (%+v): the Put was not held by the stopped plugin", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered 30s after the plugin was stopped: %+v, hangs %d\n%s", st, s.Hangs(), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.Hangs() != 1 || s.Restarts() != 1 {
		t.Errorf("hangs %d, restarts %d; want 1 and 1", s.Hangs(), s.Restarts())
	}
	if p := s.Pid(); p == pid || p == 0 {
		t.Errorf("pid %d after the relaunch (the stopped one was %d)", p, pid)
	}
	if !reaped(pid) {
		t.Errorf("the stopped plugin %d still exists", pid)
	}
	if got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key))); err != nil || !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes (%v), want the %d accepted", len(got), err, len(data))
	}
	if n := strings.Count(logs.String(), "did not answer its health check"); n != 1 {
		t.Errorf("%d lines about the hang, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "plugin health check failed") {
		t.Errorf("the hang was also reported as a failed check:\n%s", logs.String())
	}
}

// Closing a sink whose plugin is stopped, with a call in flight, is
// bounded by sdk.CloseTimeout: the process is killed and reaped, and the
// call fails as retryable (so a spool would keep the item).
func TestHangSinkCloseIsBounded(t *testing.T) {
	s, err := Start(context.Background(), SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": t.TempDir()}},
		Options{HealthInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	pid := s.Pid()
	stopPluginForTest(t, pid)
	putErr := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), "g/p/k", bytes.NewReader(make([]byte, 100<<10)), sdk.PutOptions{Size: 100 << 10})
		putErr <- err
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(sdk.CloseTimeout + hangSlack):
		t.Fatalf("Sink.Close still blocked after %v on a stopped plugin", time.Since(start))
	}
	t.Logf("Sink.Close took %v", time.Since(start).Round(time.Millisecond))
	if !reaped(pid) {
		t.Errorf("plugin %d still exists after Close", pid)
	}
	select {
	case err := <-putErr:
		if err == nil || !sdk.IsRetryable(err) {
			t.Errorf("the Put in flight returned %v, want a retryable error", err)
		}
	case <-time.After(hangSlack):
		t.Fatal("the Put in flight still blocked after Close")
	}
}

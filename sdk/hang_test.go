//go:build linux

package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangSlack is what a bounded call may take beyond its bound on a loaded
// 2-core machine. A hang is what these tests catch, not speed.
const hangSlack = 3 * time.Second

// stopForTest SIGSTOPs pid and, at cleanup, SIGCONTs and SIGKILLs it if it
// is still the process named exe (so a reused pid is never hit).
func stopForTest(t *testing.T, pid int, exe string) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %d: %v", pid, err)
	}
	waitState(t, pid, 'T')
	t.Cleanup(func() {
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.HasPrefix(cmd, []byte(exe)) {
			syscall.Kill(pid, syscall.SIGCONT)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// waitState waits until /proc says pid is in state (T: stopped).
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 && s[i+2] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not in state %c: %s", pid, state, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reaped reports whether pid is gone for good: kill(pid, 0) fails with
// ESRCH, so not even a zombie is left.
func reaped(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// A plugin stopped (SIGSTOP: it never answers go-plugin's shutdown) with
// a Put in flight: Close returns within its bound, the process is killed
// and reaped by the time it returns, the Put in flight fails, and a second
// Close is a no-op.
func TestHangCloseOfStoppedPluginIsBounded(t *testing.T) {
	c, err := Launch(context.Background(), LaunchOptions{Path: testPlugin})
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Errorf("plugin %d runs in process group %d (%v), want its own", pid, pgid, err)
	}
	ctx := context.Background()
	if _, err := c.Put(ctx, "a/before", strings.NewReader("x"), PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	stopForTest(t, pid, testPlugin)

	// A Put of each kind in flight: shared memory and stream.
	putErrs := make(chan error, 2)
	go func() {
		_, err := c.Put(ctx, "a/shared", bytes.NewReader(make([]byte, 256<<10)), PutOptions{Size: 256 << 10})
		putErrs <- err
	}()
	go func() {
		_, err := c.putStream(ctx, "a/stream", bytes.NewReader(make([]byte, 3<<20)), PutOptions{Size: -1})
		putErrs <- err
	}()
	time.Sleep(200 * time.Millisecond) // both are waiting on the stopped plugin
	select {
	case err := <-putErrs:
		t.Fatalf("a Put to a stopped plugin returned before Close: %v", err)
	default:
	}

	start := time.Now()
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(CloseTimeout + hangSlack):
		t.Fatalf("Close of a stopped plugin still blocked after %v (bound %v)", time.Since(start), CloseTimeout)
	}
	took := time.Since(start)
	t.Logf("Close took %v (grace %v, bound %v)", took.Round(time.Millisecond), closeGrace, CloseTimeout)
	if took < closeGrace/2 {
		t.Errorf("Close took %v: the graceful shutdown was not given its time", took)
	}
	if !reaped(pid) {
		t.Fatalf("plugin %d still exists (running or unreaped) after Close returned", pid)
	}
	for range 2 {
		select {
		case err := <-putErrs:
			if err == nil {
				t.Error("a Put to a stopped, killed plugin succeeded")
			}
		case <-time.After(hangSlack):
			t.Fatal("a Put in flight still blocked after Close")
		}
	}
	if !c.Exited() {
		t.Error("Exited is false after Close")
	}
	start = time.Now()
	c.Close()
	c.Kill()
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("second Close and Kill took %v", d)
	}
	if _, err := c.Info(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Info after Close: %v, want ErrClosed", err)
	}
}

// Kill does not wait for a graceful shutdown: a stopped plugin is gone
// well before the graceful deadline.
func TestHangKillOfStoppedPluginIsImmediate(t *testing.T) {
	c, err := Launch(context.Background(), LaunchOptions{Path: testPlugin})
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	stopForTest(t, pid, testPlugin)
	start := time.Now()
	done := make(chan struct{})
	go func() { c.Kill(); close(done) }()
	select {
	case <-done:
	case <-time.After(reapWait + hangSlack):
		t.Fatalf("Kill of a stopped plugin still blocked after %v", time.Since(start))
	}
	if took := time.Since(start); took >= closeGrace {
		t.Errorf("Kill took %v, as long as a graceful shutdown", took)
	}
	if !reaped(pid) {
		t.Fatalf("plugin %d still exists after Kill returned", pid)
	}
	c.Close() // no-op
}

// A plugin that never completes its handshake (here a script that starts
// a child and waits) is killed when Launch's context ends, with its whole
// process group: the child goes too.
func TestHangLaunchDeadlineKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := filepath.Join(dir, "skyloop-plugin-silent")
	body := fmt.Sprintf("#!/bin/sh\nsleep 600 &\necho $! > %s\nwait\n", pidFile)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := Launch(ctx, LaunchOptions{Path: script})
	if err == nil {
		c.Close()
		t.Fatal("Launch of a plugin that never answers succeeded")
	}
	if took := time.Since(start); took > 500*time.Millisecond+reapWait+hangSlack {
		t.Errorf("Launch took %v past a 500ms deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Launch error does not say the deadline passed: %v", err)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatalf("the script did not start its child: %v", rerr)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if child <= 0 {
		t.Fatalf("child pid %q", b)
	}
	t.Cleanup(func() {
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child)); err == nil && bytes.HasPrefix(cmd, []byte("sleep")) {
			syscall.Kill(child, syscall.SIGKILL)
		}
	})
	waitGone(t, child) // killed with the group (then reaped by init or a subreaper)
}

package sdk

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	storagev1 "github.com/skyloop-engine/skyloop/sdk/proto/v1"
)

// testPlugin is the path of the binary built from sdk/internal/testplugin.
var testPlugin string

const envHelperHost = "SKYLOOP_SDK_TEST_HELPER_HOST"

func TestMain(m *testing.M) {
	if path := os.Getenv(envHelperHost); path != "" {
		helperHost(path)
		return
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sdk-testplugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testPlugin = filepath.Join(dir, "skyloop-plugin-memory")
	cmd := exec.Command("go", "build", "-o", testPlugin, "./internal/testplugin")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugin: %v\n", err)
		return 1
	}
	return m.Run()
}

// helperHost is a host process for TestPluginExitsWhenHostKilled: it
// launches the plugin, prints the plugin's pid and waits to be killed.
func helperHost(path string) {
	c, err := Launch(context.Background(), LaunchOptions{Path: path, Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper host:", err)
		os.Exit(1)
	}
	fmt.Println(c.Pid())
	select {}
}

// safeBuffer is a bytes.Buffer for concurrent writers.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func launch(t *testing.T, settings map[string]string) (*Client, *safeBuffer) {
	t.Helper()
	stderr := &safeBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Launch(ctx, LaunchOptions{Path: testPlugin, Settings: settings, Stderr: stderr})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		waitGone(t, c.Pid())
		if t.Failed() {
			t.Logf("plugin stderr:\n%s", stderr.String())
		}
	})
	return c, stderr
}

// processGone reports whether pid no longer runs (absent or a zombie).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] == 'Z' || s[i+2] == 'X'
	}
	return false
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Error("no plugin pid")
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Errorf("plugin process %d still running", pid)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRoundTrip(t *testing.T) {
	c, _ := launch(t, nil)
	ctx := context.Background()

	info, err := c.Info(ctx)
	if err != nil || info.Name != "memory" || info.Protocol != 1 || !info.Capabilities.ConditionalWrites {
		t.Fatalf("Info = %+v, %v", info, err)
	}

	big := make([]byte, 5<<20+12345) // several chunks, not a multiple of ChunkSize
	rand.Read(big)
	blobs := map[string][]byte{
		"g/alice/sessions/s1/00000001.seg": big,
		"g/alice/sessions/s1/00000002.seg": []byte("small"),
		"g/alice/saves/slot1":              {},
		"g/bob/saves/slot1":                []byte("bob"),
	}
	for k, data := range blobs {
		oi, err := c.Put(ctx, k, bytes.NewReader(data), PutOptions{Size: int64(len(data)), Metadata: map[string]string{"k": k}})
		if err != nil {
			t.Fatalf("Put %s: %v", k, err)
		}
		if oi.Key != k || oi.Size != int64(len(data)) || oi.ETag == "" {
			t.Fatalf("Put %s: info %+v", k, oi)
		}
	}
	for k, data := range blobs {
		var buf bytes.Buffer
		oi, err := c.Get(ctx, k, &buf, GetOptions{Length: -1})
		if err != nil {
			t.Fatalf("Get %s: %v", k, err)
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("Get %s: %d bytes differ from the %d put", k, buf.Len(), len(data))
		}
		if oi.Size != int64(len(data)) || oi.Metadata["k"] != k || oi.Modified.IsZero() {
			t.Fatalf("Get %s: info %+v", k, oi)
		}
		st, err := c.Stat(ctx, k)
		if err != nil || st.ETag != oi.ETag || st.Size != oi.Size {
			t.Fatalf("Stat %s = %+v, %v; Get said %+v", k, st, err, oi)
		}
	}
	// Ranged read across a chunk boundary.
	var part bytes.Buffer
	if _, err := c.Get(ctx, "g/alice/sessions/s1/00000001.seg", &part, GetOptions{Offset: ChunkSize - 10, Length: 100}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part.Bytes(), big[ChunkSize-10:ChunkSize+90]) {
		t.Fatal("ranged Get returned the wrong bytes")
	}

	var keys []string
	if err := c.List(ctx, "g/alice/", func(o ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	want := "g/alice/saves/slot1 g/alice/sessions/s1/00000001.seg g/alice/sessions/s1/00000002.seg"
	if got := strings.Join(keys, " "); got != want {
		t.Fatalf("List = %s, want %s", got, want)
	}
	stop := errors.New("stop")
	n := 0
	if err := c.List(ctx, "", func(ObjectInfo) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("List stopped by fn: %v after %d", err, n)
	}

	if err := c.Delete(ctx, "g/bob/saves/slot1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "g/bob/saves/slot1"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := c.Stat(ctx, "g/bob/saves/slot1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat after Delete: %v", err)
	}
}

func TestErrorsCrossTheBoundary(t *testing.T) {
	c, _ := launch(t, nil)
	ctx := context.Background()

	_, err := c.Get(ctx, "no/such/key", &bytes.Buffer{}, GetOptions{})
	if !errors.Is(err, ErrNotFound) || IsRetryable(err) || !strings.Contains(err.Error(), "get no/such/key: not found") {
		t.Fatalf("Get missing: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "get" || e.Key != "no/such/key" {
		t.Fatalf("errors.As *Error: %+v", e)
	}
	if _, err := c.Stat(ctx, "no/such/key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat missing: %v", err)
	}

	first, err := c.Put(ctx, "k", strings.NewReader("one"), PutOptions{IfNoneMatch: true, Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Put(ctx, "k", strings.NewReader("two"), PutOptions{IfNoneMatch: true, Size: -1})
	if !errors.Is(err, ErrPreconditionFailed) || !strings.Contains(err.Error(), "object exists") {
		t.Fatalf("IfNoneMatch on an existing key: %v", err)
	}
	// A failed precondition on a multi-chunk payload: the plugin refuses
	// before reading it all.
	_, err = c.Put(ctx, "k", bytes.NewReader(make([]byte, 3<<20)), PutOptions{IfMatch: "bogus", Size: -1})
	if !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("IfMatch mismatch: %v", err)
	}
	if _, err := c.Put(ctx, "k", strings.NewReader("three"), PutOptions{IfMatch: first.ETag, Size: -1}); err != nil {
		t.Fatalf("IfMatch with the right etag: %v", err)
	}

	// Keys are validated on the host before anything is sent.
	if _, err := c.Put(ctx, "../escape", strings.NewReader("x"), PutOptions{}); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("invalid key: %v", err)
	}
	// And on the plugin side too, for a host that skipped validation.
	_, err = c.rpc.Stat(ctx, &storagev1.StatRequest{Key: "a//b"})
	err = fromStatus(ctx, "stat", "a//b", err)
	if !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("plugin-side key validation: %v", err)
	}

	// Cancellation reaches the call.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Stat(cctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Stat: %v", err)
	}
}

// A plugin that stores (and reports) fewer bytes than it was sent: the
// host refuses the Put, retryably, on both transports, so the spool keeps
// the item instead of counting it delivered.
func TestPutSizeMismatchRefused(t *testing.T) {
	ctx := context.Background()
	c, err := Launch(ctx, LaunchOptions{Path: testPlugin, Settings: map[string]string{"drop_last_byte": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, size := range []int{1000, 3 << 20} { // the stream, and the shared region
		data := bytes.Repeat([]byte{7}, size)
		_, err := c.Put(ctx, "k", bytes.NewReader(data), PutOptions{Size: int64(size)})
		if err == nil || !IsRetryable(err) || !strings.Contains(err.Error(), fmt.Sprintf("%d bytes stored, %d were sent", size-1, size)) {
			t.Errorf("Put of %d bytes to a plugin that keeps %d = %v; want a retryable error naming both sizes", size, size-1, err)
		}
	}
}

func TestSettingsRejected(t *testing.T) {
	_, err := Launch(context.Background(), LaunchOptions{Path: testPlugin, Settings: map[string]string{"colour": "blue"}})
	if err == nil || !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), `unknown setting "colour" (known: drop_last_byte, fail_configure, print_stdout)`) {
		t.Fatalf("unknown setting: %v", err)
	}
	_, err = Launch(context.Background(), LaunchOptions{Path: testPlugin, Settings: map[string]string{"fail_configure": "yes"}})
	if err == nil || !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), "fail_configure=yes") {
		t.Fatalf("failing New: %v", err)
	}
}

func TestLaunchRefusals(t *testing.T) {
	ctx := context.Background()
	_, err := Launch(ctx, LaunchOptions{Path: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing binary: %v", err)
	}
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644)
	if _, err := Launch(ctx, LaunchOptions{Path: plain}); err == nil || !strings.Contains(err.Error(), "not executable") {
		t.Fatalf("non-executable: %v", err)
	}
	sum, err := fileSHA256(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Repeat("ab", 32)
	_, err = Launch(ctx, LaunchOptions{Path: testPlugin, SHA256: bad})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%x", sum)) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "sha256 =") {
		t.Fatalf("SHA-256 mismatch: %v", err)
	}
	c, err := Launch(ctx, LaunchOptions{Path: testPlugin, SHA256: fmt.Sprintf("%X", sum)})
	if err != nil {
		t.Fatalf("matching pin: %v", err)
	}
	c.Close()
	waitGone(t, c.Pid())

	// Not a plugin at all: the handshake fails, quoting its stderr.
	script := filepath.Join(t.TempDir(), "notaplugin")
	os.WriteFile(script, []byte("#!/bin/sh\necho 'something broke' >&2\nexit 3\n"), 0o755)
	_, err = Launch(ctx, LaunchOptions{Path: script, StartTimeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "handshake failed") || !strings.Contains(err.Error(), "something broke") {
		t.Fatalf("non-plugin: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	info, settings, err := Describe(context.Background(), testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "memory" || info.Version != "0.0.1" || info.Protocol != ProtocolVersion || !info.Capabilities.RangedReads {
		t.Fatalf("info %+v", info)
	}
	if len(settings) != 3 || settings[0].Name != "fail_configure" || settings[1].Help == "" {
		t.Fatalf("settings %+v", settings)
	}
	out, err := exec.Command(testPlugin, "-describe").Output()
	if err != nil || !strings.Contains(string(out), `"conditional_writes": true`) || !strings.Contains(string(out), `"name": "print_stdout"`) {
		t.Fatalf("-describe output %s, %v", out, err)
	}
}

func TestStdout(t *testing.T) {
	t.Run("after Serve works", func(t *testing.T) {
		c, stderr := launch(t, map[string]string{"print_stdout": "1"})
		if _, err := c.Put(context.Background(), "a/b", strings.NewReader("x"), PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := c.Get(context.Background(), "a/b", &buf, GetOptions{}); err != nil || buf.String() != "x" {
			t.Fatalf("Get %q, %v", buf.String(), err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(stderr.String(), "put a/b") {
			if time.Now().After(deadline) {
				t.Fatalf("the plugin's stdout did not reach the host's Stderr: %q", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("before Serve fails clearly", func(t *testing.T) {
		t.Setenv("SKYLOOP_TESTPLUGIN_STDOUT_BEFORE", "1")
		_, err := Launch(context.Background(), LaunchOptions{Path: testPlugin})
		if err == nil || !strings.Contains(err.Error(), `printed "hello before Serve" to stdout before its handshake`) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCloseIdempotent(t *testing.T) {
	c, err := Launch(context.Background(), LaunchOptions{Path: testPlugin})
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	if processGone(pid) {
		t.Fatal("plugin not running after Launch")
	}
	first, second := c.Close(), c.Close() // the second must be a no-op
	if first != nil || second != nil {
		t.Fatalf("Close returned %v, then %v", first, second)
	}
	waitGone(t, pid)
	if _, err := c.Stat(context.Background(), "k"); err == nil {
		t.Fatal("Stat after Close succeeded")
	}
}

func TestPluginExitsWhenHostKilled(t *testing.T) {
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), envHelperHost+"="+testPlugin)
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || processGone(pid) {
		t.Fatalf("helper host printed %q", line)
	}
	host.Process.Signal(syscall.SIGKILL)
	host.Wait()
	start := time.Now()
	waitGone(t, pid)
	t.Logf("plugin %d exited %v after its host was killed", pid, time.Since(start).Round(time.Millisecond))
	if !processGone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

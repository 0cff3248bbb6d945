package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/plugins/ftp/ftptest"
	"github.com/skyloop-engine/skyloop/sdk"
)

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed ^ byte(i>>11)
	}
	return b
}

func mustGetBytes(t *testing.T, b sdk.Backend, key string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := b.Get(t.Context(), key, &buf, sdk.GetOptions{}); err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return buf.Bytes()
}

func listAll(t *testing.T, b sdk.Backend) []string {
	t.Helper()
	var keys []string
	if err := b.List(t.Context(), "", func(o sdk.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	return keys
}

// localFiles lists every file under the server's directory for root (the
// test reads the server's disk to see what the plugin left there).
func localFiles(t *testing.T, srv *ftptest.Server, root string) []string {
	t.Helper()
	var out []string
	base := filepath.Join(srv.Dir, filepath.FromSlash(root))
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(base, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestConfigErrors(t *testing.T) {
	srv := ftptest.StartVsftpd(t, ftptest.Options{TLS: true})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	t.Setenv("SKYLOOP_FTP_TEST_PW", srv.Password)
	// online: found when connecting (retryable: the host tries again
	// later) or refused by the server (permanent, saying what to fix);
	// offline: invalid settings, which stop the game at start.
	for _, tc := range []struct {
		name      string
		set       map[string]string
		want      string
		retryable bool
		invalid   bool
	}{
		{"WrongPassword", map[string]string{"password": "wrong-password"}, fmt.Sprintf("login as %q at %s refused", srv.User, srv.Addr()), false, false},
		{"UnverifiableCertificate", map[string]string{"ca_file": ""}, "set ca_file", false, false},
		{"WrongServerName", map[string]string{"server_name": "ftp.example.org"}, "does not verify", false, false},
		{"PlainToTLSOnlyServer", map[string]string{"tls": "none", "ca_file": ""}, "requires TLS", false, false},
		{"Unreachable", map[string]string{"port": closedPort}, "cannot reach 127.0.0.1:" + closedPort, true, false},
		{"BadTLS", map[string]string{"tls": "maybe"}, `tls = "maybe"`, false, true},
		{"BothPasswords", map[string]string{"password_env": "SKYLOOP_FTP_TEST_PW"}, "not both", false, true},
		{"MissingPasswordEnv", map[string]string{"password": "", "password_env": "SKYLOOP_NO_SUCH_VAR"}, "no such environment variable", false, true},
		{"BadPort", map[string]string{"port": "99999"}, "port", false, true},
		{"Unknown", map[string]string{"colour": "blue"}, `unknown setting "colour"`, false, true},
		{"CAWithoutTLS", map[string]string{"tls": "none"}, "apply to TLS", false, true},
		{"TimeoutOverLease", map[string]string{"lock_lease_seconds": "60", "timeout_seconds": "30"}, "at most a quarter of lock_lease_seconds", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := srv.Settings()
			for k, v := range tc.set {
				if v == "" {
					delete(s, k)
				} else {
					s[k] = v
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			b, err := newBackend(ctx, s)
			if err == nil {
				b.(*backend).Close()
				t.Fatalf("newBackend succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("newBackend = %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), srv.Password) || strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("error reveals the password: %v", err)
			}
			if got := sdk.IsRetryable(err); got != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v: %v", got, tc.retryable, err)
			}
			if got := errors.Is(err, sdk.ErrInvalidSettings); got != tc.invalid {
				t.Errorf("errors.Is(err, ErrInvalidSettings) = %v, want %v: %v", got, tc.invalid, err)
			}
			t.Logf("%v", err)
		})
	}
	t.Run("PasswordEnv", func(t *testing.T) {
		s := settingsFor(srv)
		delete(s, "password")
		s["password_env"] = "SKYLOOP_FTP_TEST_PW"
		b := open(t, s)
		if _, err := b.Put(t.Context(), "k", strings.NewReader("x"), sdk.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CAFileTrusted", func(t *testing.T) {
		b := open(t, settingsFor(srv))
		if _, err := b.Put(t.Context(), "k", strings.NewReader("x"), sdk.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	})
}

// A plain server asked for explicit TLS says so.
func TestExplicitTLSRefused(t *testing.T) {
	srv := ftptest.StartVsftpd(t, ftptest.Options{})
	s := srv.Settings()
	s["tls"] = "explicit"
	_, err := newBackend(t.Context(), s)
	if err == nil || !strings.Contains(err.Error(), "refused AUTH TLS") || sdk.IsRetryable(err) {
		t.Fatalf("newBackend = %v, want a permanent 'refused AUTH TLS' error", err)
	}
	t.Log(err)
}

// Keys that would leave the root are refused before any command is sent:
// the server's protocol log shows none of them.
func TestPathTraversalNeverReachesServer(t *testing.T) {
	srv := ftptest.StartVsftpd(t, ftptest.Options{})
	b := open(t, settingsFor(srv))
	ctx := t.Context()
	for _, key := range []string{"../escape", "a/../../etc/passwd", "..", "a/./b", "/etc/passwd", "a//b", "x/..", "back\\slash"} {
		if _, err := b.Put(ctx, key, strings.NewReader("x"), sdk.PutOptions{Size: 1}); !errors.Is(err, sdk.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want sdk.ErrInvalidKey", key, err)
		}
		if _, err := b.Get(ctx, key, io.Discard, sdk.GetOptions{}); !errors.Is(err, sdk.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want sdk.ErrInvalidKey", key, err)
		}
		if err := b.Delete(ctx, key); !errors.Is(err, sdk.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want sdk.ErrInvalidKey", key, err)
		}
	}
	// Dots inside names are fine and stay names.
	if _, err := b.Put(ctx, "ok/..x/.y", strings.NewReader("x"), sdk.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	log := srv.Log()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "FTP command") && (strings.Contains(line, "/..\"") || strings.Contains(line, "../") || strings.Contains(line, "passwd")) {
			t.Errorf("a traversal reached the server: %s", line)
		}
	}
	if files := localFiles(t, srv, ""); len(files) == 0 {
		t.Fatal("nothing stored")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(srv.Dir), "escape")); err == nil {
		t.Error("a file escaped the server's root")
	}
}

// gateReader yields size bytes of data but stops at pauseAt until gate is
// closed, telling reached when it gets there.
type gateReader struct {
	data    []byte
	off     int
	pauseAt int
	reached chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (g *gateReader) Read(p []byte) (int, error) {
	if g.off >= g.pauseAt {
		g.once.Do(func() { close(g.reached) })
		<-g.gate
	}
	if g.off >= len(g.data) {
		return 0, io.EOF
	}
	end := len(g.data)
	if g.off < g.pauseAt {
		end = g.pauseAt
	}
	n := copy(p, g.data[g.off:end])
	g.off += n
	return n, nil
}

// The server restarted mid-upload: the Put fails as retryable, nothing
// appears under the final name, the retried upload completes, and the temp
// file the dead upload left is swept.
func TestServerRestartMidTransfer(t *testing.T) {
	for _, k := range []serverKind{servers[0], servers[1]} {
		t.Run(k.name, func(t *testing.T) {
			srv := k.start(t, k.opts)
			s := settingsFor(srv)
			s["timeout_seconds"] = "5"
			b := open(t, s)
			root := strings.TrimPrefix(s["root"], "/")
			data := pattern(4<<20, 3)
			g := &gateReader{data: data, pauseAt: 1 << 20, reached: make(chan struct{}), gate: make(chan struct{})}
			done := make(chan error, 1)
			go func() {
				_, err := b.Put(t.Context(), "rs/key", g, sdk.PutOptions{Size: int64(len(data))})
				done <- err
			}()
			select {
			case <-g.reached:
			case err := <-done:
				t.Fatalf("Put returned early: %v", err)
			}
			time.Sleep(100 * time.Millisecond) // the first MiB on its way
			srv.Stop()
			close(g.gate)
			err := <-done
			if err == nil || !sdk.IsRetryable(err) {
				t.Fatalf("Put across a server restart = %v, want a retryable error", err)
			}
			t.Logf("Put while the server died: %v", err)
			for _, f := range localFiles(t, srv, root) {
				if !strings.HasPrefix(filepath.Base(f), ".%t") {
					t.Errorf("after the failed upload the server holds %s, want at most a hidden temp file", f)
				}
			}
			// While down: retryable.
			if _, err := b.Stat(t.Context(), "rs/key"); !sdk.IsRetryable(err) {
				t.Errorf("Stat with the server down = %v, want retryable", err)
			}
			srv.Restart(t)
			if keys := listAll(t, b); len(keys) != 0 {
				t.Fatalf("List after the failed upload = %q, want nothing", keys)
			}
			if _, err := b.Put(t.Context(), "rs/key", bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))}); err != nil {
				t.Fatalf("retried Put: %v", err)
			}
			if got := mustGetBytes(t, b, "rs/key"); !bytes.Equal(got, data) {
				t.Fatalf("stored %d bytes differ from the %d uploaded", len(got), len(data))
			}
			files := localFiles(t, srv, root)
			if want := []string{"rs/.key%m", "rs/key"}; strings.Join(files, ",") != strings.Join(want, ",") {
				t.Errorf("server files %q, want %q (the dead upload's temp file swept)", files, want)
			}
			stored, err := os.ReadFile(filepath.Join(srv.Dir, root, "rs", "key"))
			if err != nil || !bytes.Equal(stored, data) {
				t.Errorf("the file on the server's disk is not the object's bytes (%d bytes, %v)", len(stored), err)
			}
		})
	}
}

// The server drops every control connection between operations: the next
// operations reconnect and succeed.
func TestControlConnectionKilled(t *testing.T) {
	for _, k := range []serverKind{servers[1], servers[2]} {
		t.Run(k.name, func(t *testing.T) {
			srv := k.start(t, k.opts)
			b := open(t, settingsFor(srv))
			ctx := t.Context()
			data := pattern(300<<10, 5)
			if _, err := b.Put(ctx, "cc/a", bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))}); err != nil {
				t.Fatal(err)
			}
			for round := range 3 {
				if n := srv.KillSessions(t); n == 0 {
					t.Fatal("no session processes to kill")
				}
				time.Sleep(50 * time.Millisecond)
				if got := mustGetBytes(t, b, "cc/a"); !bytes.Equal(got, data) {
					t.Fatalf("round %d: Get after the control connections were killed: %d bytes differ", round, len(got))
				}
				srv.KillSessions(t)
				time.Sleep(50 * time.Millisecond)
				if _, err := b.Put(ctx, fmt.Sprintf("cc/b%d", round), bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))}); err != nil {
					t.Fatalf("round %d: Put after the control connections were killed: %v", round, err)
				}
			}
			if keys := listAll(t, b); strings.Join(keys, ",") != "cc/a,cc/b0,cc/b1,cc/b2" {
				t.Fatalf("List = %q", keys)
			}
		})
	}
}

// Eight writers with If-None-Match on one new key, all released together
// once each has uploaded (a barrier before the lock): exactly one wins,
// every round, and the key holds its bytes.
func TestIfNoneMatchEightWriters(t *testing.T) {
	for _, k := range []serverKind{servers[0], servers[3]} {
		t.Run(k.name, func(t *testing.T) {
			srv := k.start(t, k.opts)
			s := settingsFor(srv)
			s["connections"] = "8"
			b := open(t, s)
			const n = 8
			for round := range 4 {
				key := fmt.Sprintf("race/key-%d", round)
				var arrived sync.WaitGroup
				arrived.Add(n)
				release := make(chan struct{})
				b.beforeLock = func(string) { arrived.Done(); <-release }
				go func() { arrived.Wait(); close(release) }()
				errs := make([]error, n)
				datas := make([][]byte, n)
				var wg sync.WaitGroup
				for i := range n {
					datas[i] = pattern(64<<10+i, byte(i))
					wg.Go(func() {
						_, errs[i] = b.Put(t.Context(), key, bytes.NewReader(datas[i]), sdk.PutOptions{Size: int64(len(datas[i])), IfNoneMatch: true})
					})
				}
				wg.Wait()
				b.beforeLock = nil
				winner := -1
				for i, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("round %d: writers %d and %d both won", round, winner, i)
					case err == nil:
						winner = i
					case !errors.Is(err, sdk.ErrPreconditionFailed):
						t.Fatalf("round %d: writer %d: %v", round, i, err)
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: no writer won", round)
				}
				if got := mustGetBytes(t, b, key); !bytes.Equal(got, datas[winner]) {
					t.Fatalf("round %d: the key does not hold the winner's bytes", round)
				}
			}
			for _, f := range localFiles(t, srv, strings.TrimPrefix(s["root"], "/")) {
				if strings.Contains(f, "%l") || strings.Contains(f, "%k") || strings.Contains(f, "%t") {
					t.Errorf("left behind: %s", f)
				}
			}
		})
	}
}

var errDied = errors.New("writer died holding the lock (simulated)")

// A writer dies holding a key's lock: the next writer waits out the lease,
// breaks the lock and proceeds; not before.
func TestStaleLockBrokenAfterLease(t *testing.T) {
	srv := ftptest.StartVsftpd(t, ftptest.Options{})
	s := settingsFor(srv)
	s["lock_lease_seconds"] = "2"
	s["timeout_seconds"] = "0.5"
	b := open(t, s)
	ctx := t.Context()
	b.afterLock = func(context.Context, string) error { return errDied }
	if _, err := b.Put(ctx, "stale/key", strings.NewReader("first"), sdk.PutOptions{Size: 5}); !errors.Is(err, errDied) {
		t.Fatalf("dying Put = %v", err)
	}
	b.afterLock = nil
	lockDir := filepath.Join(srv.Dir, strings.TrimPrefix(s["root"], "/"), "stale", ".key%l")
	if owners, err := os.ReadDir(lockDir); err != nil || len(owners) != 1 {
		t.Fatalf("the dead writer's lock %s is not on the server: %v %v", lockDir, owners, err)
	}
	start := time.Now()
	if _, err := b.Put(ctx, "stale/key", strings.NewReader("second"), sdk.PutOptions{Size: 6, IfNoneMatch: true}); err != nil {
		t.Fatalf("Put after a writer died holding the lock: %v", err)
	}
	took := time.Since(start)
	if took < 2*time.Second || took > 10*time.Second {
		t.Errorf("the next writer took %v, want the lease (2s) and a little", took.Round(time.Millisecond))
	}
	t.Logf("the next writer proceeded after %v", took.Round(time.Millisecond))
	if got := mustGetBytes(t, b, "stale/key"); string(got) != "second" {
		t.Fatalf("key holds %q", got)
	}
	if _, err := os.Stat(lockDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock %s still there after the next writer released it: %v", lockDir, err)
	}
}

// A real plugin process holding a key's lock is killed (SIGKILL): the next
// writer, in another process, waits out the lease, breaks the lock and
// proceeds.
func TestKilledWriterHoldingLock(t *testing.T) {
	srv := ftptest.StartVsftpd(t, ftptest.Options{})
	s := settingsFor(srv)
	s["lock_lease_seconds"] = "3"
	s["timeout_seconds"] = "0.75"
	bin := filepath.Join(t.TempDir(), "skyloop-plugin-ftp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	c, err := sdk.Launch(t.Context(), sdk.LaunchOptions{Path: bin, Settings: s, Stderr: os.Stderr, Env: []string{holdLockEnv + "=1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	putDone := make(chan error, 1)
	go func() {
		_, err := c.Put(context.Background(), "kill/key", strings.NewReader("doomed"), sdk.PutOptions{Size: 6})
		putDone <- err
	}()
	lockDir := filepath.Join(srv.Dir, strings.TrimPrefix(s["root"], "/"), "kill", ".key%l")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if owners, err := os.ReadDir(lockDir); err == nil && len(owners) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the plugin process never took the key's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	killed := killProcess(t, bin)
	<-putDone
	t.Logf("killed plugin process %d holding %s", killed, lockDir)
	b := open(t, s)
	start := time.Now()
	if _, err := b.Put(t.Context(), "kill/key", strings.NewReader("survivor"), sdk.PutOptions{Size: 8, IfNoneMatch: true}); err != nil {
		t.Fatalf("Put after the lock holder was killed: %v", err)
	}
	took := time.Since(start)
	if took < 3*time.Second || took > 15*time.Second {
		t.Errorf("the next writer took %v, want the lease (3s) and a little", took.Round(time.Millisecond))
	}
	if got := mustGetBytes(t, b, "kill/key"); string(got) != "survivor" {
		t.Fatalf("key holds %q", got)
	}
}

// killProcess SIGKILLs the process running bin and returns its pid.
func killProcess(t *testing.T, bin string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && exe == bin {
			if p, err := os.FindProcess(pid); err == nil && p.Kill() == nil {
				return pid
			}
		}
	}
	t.Fatalf("no process runs %s", bin)
	return 0
}

// vsftpd has no MLSD, so listings parse its LIST output; pure-ftpd has
// MLSD, which the library then uses (both pass the conformance suite).
func TestListingCommand(t *testing.T) {
	for _, tc := range []struct {
		k    serverKind
		mlsd bool
	}{{servers[0], false}, {servers[2], true}} {
		t.Run(tc.k.name, func(t *testing.T) {
			srv := tc.k.start(t, tc.k.opts)
			b := open(t, settingsFor(srv))
			var mlsd bool
			if err := b.with(t.Context(), func(s *session, _ *bool) error {
				mlsd = s.sc.IsTimePreciseInList()
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if mlsd != tc.mlsd {
				t.Fatalf("MLSD in use = %v, want %v", mlsd, tc.mlsd)
			}
		})
	}
}

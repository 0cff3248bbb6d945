package docs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// sharedDir holds what several tests use (the skyloop binary, the disk
// plugin), built once per test binary and removed by TestMain.
var sharedDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "skyloop-docs-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// budget is a context for one step of t: at most limit, and ending well
// before the test binary's -timeout so that a hung step fails with its
// output rather than a panic.
func budget(t testing.TB, limit time.Duration) context.Context {
	t.Helper()
	d := limit
	if tt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := tt.Deadline(); ok {
			if left := time.Until(dl) - 30*time.Second; left < d {
				d = max(left, time.Second)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// result is what a finished command left.
type result struct {
	cmd    string
	stdout string
	stderr string
	code   int   // exit status; -1 when it did not exit by itself
	err    error // nil when it exited 0
}

func (r result) output() string {
	var b strings.Builder
	if r.stdout != "" {
		fmt.Fprintf(&b, "--- stdout:\n%s", tail(r.stdout, 8000))
	}
	if r.stderr != "" {
		fmt.Fprintf(&b, "--- stderr:\n%s", tail(r.stderr, 8000))
	}
	return b.String()
}

func (r result) String() string { return fmt.Sprintf("%s: %v\n%s", r.cmd, r.err, r.output()) }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// run runs name with args in dir (env nil: this process's), bounded by ctx:
// when ctx ends the process is killed, and its pipes are given up 10 s
// later even if children of it still hold them.
func run(ctx context.Context, dir string, env []string, name string, args ...string) result {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := result{cmd: strings.Join(append([]string{name}, args...), " "), stdout: stdout.String(), stderr: stderr.String(), err: err}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		r.code = -1
		r.err = fmt.Errorf("%v: killed after %v (%w)", err, time.Since(start).Round(time.Second), ctx.Err())
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.code = -1
	}
	return r
}

// mustRun is run that fails t unless the command exits 0.
func mustRun(t testing.TB, ctx context.Context, dir string, env []string, name string, args ...string) result {
	t.Helper()
	r := run(ctx, dir, env, name, args...)
	if r.err != nil {
		t.Fatal(r)
	}
	return r
}

var (
	goFlagsOnce sync.Once
	goFlags     string
)

// goEnv is the environment of the go commands that build snippet modules:
// this one, with -mod=mod added to the GOFLAGS in effect (go.mod and go.sum
// of a snippet module get what they lack from the module cache, or from
// GOPROXY as this environment has it) and no workspace.
func goEnv(t testing.TB) []string {
	t.Helper()
	goFlagsOnce.Do(func() {
		out, err := exec.CommandContext(budget(t, time.Minute), "go", "env", "GOFLAGS").Output()
		if err != nil {
			t.Fatalf("go env GOFLAGS: %v", err)
		}
		goFlags = strings.TrimSpace(string(out))
	})
	return append(os.Environ(), "GOFLAGS="+strings.TrimSpace(goFlags+" -mod=mod"), "GOWORK=off")
}

// newModule makes a module in a new temporary directory, outside the
// repository, that requires this module and replaces it with the checkout,
// with the checkout's go.sum. files are written into it.
func newModule(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	root := repoRoot(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil {
		t.Fatalf("%s/go.mod has no go directive", root)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if rel, err := filepath.Rel(root, dir); err == nil && !strings.HasPrefix(rel, "..") {
		t.Fatalf("snippet module %s is inside the repository %s; TMPDIR must point elsewhere", dir, root)
	}
	all := map[string]string{
		"go.mod": fmt.Sprintf("module example.com/%s\n\ngo %s\n\nrequire %s v0.0.0\n\nreplace %s => %s\n", name, m[1], modulePath, modulePath, root),
	}
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		all["go.sum"] = string(sum)
	}
	for n, c := range files {
		all[n] = c
	}
	for n, c := range all {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lazy is a binary built once per test binary.
type lazy struct {
	once sync.Once
	path string
	err  error
}

func (l *lazy) get(t testing.TB, build func() (string, error)) string {
	t.Helper()
	l.once.Do(func() { l.path, l.err = build() })
	if l.err != nil {
		t.Fatal(l.err)
	}
	return l.path
}

var skyloopBin, diskPluginBin lazy

// skyloopTool builds the skyloop tool from ./tools/skyloop as `make build`
// does (CGO_ENABLED=0), alone in a directory of its own: no plugin beside it.
func skyloopTool(t testing.TB) string {
	t.Helper()
	return skyloopBin.get(t, func() (string, error) {
		out := filepath.Join(sharedDir, "tool", "skyloop")
		r := run(budget(t, 10*time.Minute), repoRoot(t), append(os.Environ(), "CGO_ENABLED=0"), "go", "build", "-o", out, "./tools/skyloop")
		if r.err != nil {
			return "", fmt.Errorf("build the skyloop tool: %v", r)
		}
		return out, nil
	})
}

// diskPluginDir builds skyloop-plugin-disk from ./plugins/disk into a
// directory of its own (for plugin_dir) and returns the directory.
func diskPluginDir(t testing.TB) string {
	t.Helper()
	return diskPluginBin.get(t, func() (string, error) {
		dir := filepath.Join(sharedDir, "plugins")
		r := run(budget(t, 10*time.Minute), repoRoot(t), nil, "go", "build", "-o", filepath.Join(dir, "skyloop-plugin-disk"), "./plugins/disk")
		if r.err != nil {
			return "", fmt.Errorf("build skyloop-plugin-disk: %v", r)
		}
		return dir, nil
	})
}

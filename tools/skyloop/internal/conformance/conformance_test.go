package conformance

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var brokenPlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "skyloop-conformance-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	brokenPlugin = filepath.Join(dir, "skyloop-plugin-broken")
	cmd := exec.Command("go", "build", "-o", brokenPlugin, "github.com/skyloop-engine/skyloop/tools/skyloop/internal/brokenplugin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build broken plugin: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// children lists the live (not zombie) child processes of this process.
func children(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) >= 2 && f[0] != "Z" && f[1] == strconv.Itoa(os.Getpid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// The broken plugin through the runner: exactly IfMatch/Stale fails, with
// its message and log; afterwards no goroutine and no plugin process of
// the run is left.
func TestRunBroken(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	results, err := Run(context.Background(), Options{Path: brokenPlugin, Scratch: "prefix", Run: regexp.MustCompile("^(Info|IfMatch|RoundTrip/Small)")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
		want := Pass
		if r.Name == "IfMatch/Stale" {
			want = Fail
		}
		if r.Status != want {
			t.Errorf("%s: %s, want %s (log %q)", r.Name, r.Status, want, r.Log)
		}
		if r.Duration <= 0 {
			t.Errorf("%s: duration %v", r.Name, r.Duration)
		}
		if r.Name == "IfMatch/Stale" {
			if !strings.HasPrefix(r.Message, "Put with a stale IfMatch ETag") {
				t.Errorf("IfMatch/Stale message %q", r.Message)
			}
			if !strings.Contains(r.Log, "suite.go:") {
				t.Errorf("IfMatch/Stale log %q lacks the position", r.Log)
			}
		}
	}
	if got, want := strings.Join(names, " "), "Info RoundTrip/Small IfMatch/Current IfMatch/Stale IfMatch/Missing"; got != want {
		t.Errorf("results %s, want %s", got, want)
	}
	if pids := children(t); len(pids) != 0 {
		t.Errorf("child processes left after Run: %v", pids)
	}
}

// The testing package's flags are as they were after a run, so the outer
// `go test` goes on as configured.
func TestRunRestoresTestFlags(t *testing.T) {
	before := map[string]string{}
	flag.VisitAll(func(f *flag.Flag) { before[f.Name] = f.Value.String() })
	if _, err := Run(context.Background(), Options{Path: brokenPlugin, Run: regexp.MustCompile("^Info$")}); err != nil {
		t.Fatal(err)
	}
	flag.VisitAll(func(f *flag.Flag) {
		if got := f.Value.String(); got != before[f.Name] {
			t.Errorf("flag -%s = %q after Run, was %q", f.Name, got, before[f.Name])
		}
	})
	if os.Stdout == nil || os.Stdout.Name() == "|1" {
		t.Errorf("os.Stdout not restored: %v", os.Stdout.Name())
	}
}

// A run cancelled midway (as --timeout does) neither panics nor leaks: the
// checks not started fail with "not run".
func TestRunCancelled(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results, err := Run(ctx, Options{
		Path: brokenPlugin, Run: regexp.MustCompile("^(Info|Stat|Overwrite)$"),
		Progress: func(r Result) { cancel() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || results[0].Status != Pass {
		t.Fatalf("results %+v", results)
	}
	for _, r := range results[1:] {
		if r.Status != Fail || !strings.Contains(r.Message, "not run") {
			t.Errorf("%s: %s %q, want fail, not run", r.Name, r.Status, r.Message)
		}
	}
	if pids := children(t); len(pids) != 0 {
		t.Errorf("child processes left after Run: %v", pids)
	}
}

func TestRunErrors(t *testing.T) {
	if _, err := Run(context.Background(), Options{Path: brokenPlugin, Run: regexp.MustCompile("nothing-matches")}); err == nil || !strings.Contains(err.Error(), "no check matches") {
		t.Errorf("no match: %v", err)
	}
	_, err := Run(context.Background(), Options{Path: brokenPlugin, Settings: map[string]string{"bogus": "1"}})
	if err == nil || !strings.Contains(err.Error(), `unknown setting "bogus"`) {
		t.Errorf("unknown setting: %v", err)
	}
	_, err = Run(context.Background(), Options{Path: brokenPlugin, Timeout: time.Nanosecond})
	if err == nil {
		t.Errorf("1ns timeout: no error")
	}
}

func TestScratch(t *testing.T) {
	dir := t.TempDir()
	r := &runner{runID: "RUN"}
	if got, _ := r.scratch("p/", 7); got != "p/RUN/check-0007" {
		t.Errorf("prefix: %q", got)
	}
	if got, _ := r.scratch("", 7); got != "RUN/check-0007" {
		t.Errorf("empty: %q", got)
	}
	got, err := r.scratch(dir, 7)
	if err != nil || got != filepath.Join(dir, "RUN", "check-0007") {
		t.Errorf("dir: %q, %v", got, err)
	}
	if fi, err := os.Stat(got); err != nil || !fi.IsDir() {
		t.Errorf("scratch directory not created: %v", err)
	}
}

func TestSplitLogs(t *testing.T) {
	out := `=== RUN   Conformance
=== RUN   Conformance/Info
    suite.go:10: backend x
        second line
=== RUN   Conformance/IfMatch
=== RUN   Conformance/IfMatch/Stale
    suite.go:499: Put with a stale IfMatch ETag = <nil>
=== NAME  Conformance/Info
    late line
--- FAIL: Conformance (0.00s)
    --- PASS: Conformance/Info (0.00s)
    --- FAIL: Conformance/IfMatch (0.00s)
        --- FAIL: Conformance/IfMatch/Stale (0.00s)
FAIL
`
	logs := splitLogs(out)
	if got, want := logs["Conformance/Info"], "suite.go:10: backend x\n    second line\nlate line\n"; got != want {
		t.Errorf("Info log %q, want %q", got, want)
	}
	if got := firstLine(logs["Conformance/IfMatch/Stale"]); got != "Put with a stale IfMatch ETag = <nil>" {
		t.Errorf("first line %q", got)
	}
	if len(logs) != 2 {
		t.Errorf("logs for %d tests, want 2: %q", len(logs), logs)
	}
}

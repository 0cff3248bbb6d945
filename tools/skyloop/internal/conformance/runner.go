package conformance

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// runMu serialises runs: the testing package's flags, os.Stdout and the
// M it builds are process-wide.
var runMu sync.Mutex

// runTest runs fn as the single top-level test "Conformance" through
// testing.MainStart and returns m.Run's exit code and the verbose output
// the testing package printed.
func runTest(fn func(t *testing.T)) (code int, output string, err error) {
	runMu.Lock()
	defer runMu.Unlock()

	testing.Init()
	if !flag.Parsed() {
		// m.Run would otherwise call flag.Parse on os.Args, which hold the
		// tool's own command line.
		if err := flag.CommandLine.Parse(nil); err != nil {
			return 0, "", err
		}
	}
	restore, err := setTestFlags(map[string]string{
		"test.v":       "true",
		"test.count":   "1",
		"test.timeout": "0",
		"test.run":     "^Conformance$",
	})
	if err != nil {
		return 0, "", err
	}
	defer restore()

	r, w, err := os.Pipe()
	if err != nil {
		return 0, "", fmt.Errorf("conformance: capture test output: %w", err)
	}
	var buf strings.Builder
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&buf, r)
	}()
	stdout := os.Stdout
	os.Stdout = w
	defer func() {
		os.Stdout = stdout
		w.Close()
		<-copied
		r.Close()
		output = buf.String()
	}()

	m := testing.MainStart(testDeps{}, []testing.InternalTest{{Name: "Conformance", F: fn}}, nil, nil, nil)
	return m.Run(), "", nil
}

// setTestFlags resets every "test.*" flag to its default, applies set and
// returns a function that restores the values from before.
func setTestFlags(set map[string]string) (restore func(), err error) {
	saved := map[string]string{}
	flag.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "test.") {
			saved[f.Name] = f.Value.String()
		}
	})
	restore = func() {
		for name, v := range saved {
			_ = flag.Set(name, v)
		}
	}
	var errs []error
	flag.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "test.") {
			return
		}
		v, ok := set[f.Name]
		if !ok {
			v = f.DefValue
		}
		if f.Value.String() == v {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("flag -%s=%q: %w", f.Name, v, err))
		}
	})
	for name := range set {
		if flag.Lookup(name) == nil {
			errs = append(errs, fmt.Errorf("the testing package has no flag -%s", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		restore()
		return nil, fmt.Errorf("conformance: set up the testing package: %w", err)
	}
	return restore, nil
}

// testDeps implements the testing package's testDeps interface (see
// $GOROOT/src/testing/testing.go and testing/internal/testdeps): no
// profiles, no test log, no fuzzing, no coverage.
type testDeps struct{}

// corpusEntry is the testing package's corpusEntry, a type alias of this
// anonymous struct.
type corpusEntry = struct {
	Parent     string
	Path       string
	Data       []byte
	Values     []any
	Generation int
	IsSeed     bool
}

var errNotSupported = errors.New("not supported by skyloop's test runner")

func (testDeps) ImportPath() string { return "" }
func (testDeps) ModulePath() string { return "" }

var (
	matchMu  sync.Mutex
	matchPat string
	matchRe  *regexp.Regexp
)

func (testDeps) MatchString(pat, str string) (bool, error) {
	matchMu.Lock()
	defer matchMu.Unlock()
	if matchRe == nil || pat != matchPat {
		re, err := regexp.Compile(pat)
		if err != nil {
			return false, err
		}
		matchPat, matchRe = pat, re
	}
	return matchRe.MatchString(str), nil
}

func (testDeps) SetPanicOnExit0(bool)                        {}
func (testDeps) StartCPUProfile(io.Writer) error             { return errNotSupported }
func (testDeps) StopCPUProfile()                             {}
func (testDeps) StartTestLog(io.Writer)                      {}
func (testDeps) StopTestLog() error                          { return nil }
func (testDeps) WriteProfileTo(string, io.Writer, int) error { return errNotSupported }
func (testDeps) CoordinateFuzzing(time.Duration, int64, time.Duration, int64, int, []corpusEntry, []reflect.Type, string, string) error {
	return errNotSupported
}
func (testDeps) RunFuzzWorker(func(corpusEntry) error) error { return errNotSupported }
func (testDeps) ReadCorpus(string, []reflect.Type) ([]corpusEntry, error) {
	return nil, nil
}
func (testDeps) CheckCorpus([]any, []reflect.Type) error { return nil }
func (testDeps) ResetCoverage()                          {}
func (testDeps) SnapshotCoverage()                       {}
func (testDeps) InitRuntimeCoverage() (mode string, tearDown func(coverprofile string, gocoverdir string) (string, error), snapcov func() float64) {
	return "", nil, nil
}

// splitLogs cuts the testing package's verbose output into the log of each
// test, keyed by the full test name, with the four-space indent of log
// lines removed.
func splitLogs(out string) map[string]string {
	logs := map[string]*strings.Builder{}
	var cur string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "=== "); ok {
			// "=== RUN   NAME", "=== NAME  NAME", "=== CONT  NAME", "=== PAUSE NAME"
			if verb, name, ok := strings.Cut(rest, " "); ok && (verb == "RUN" || verb == "NAME" || verb == "CONT") {
				cur = strings.TrimSpace(name)
			} else {
				cur = ""
			}
			continue
		}
		if t := strings.TrimLeft(line, " "); strings.HasPrefix(t, "--- ") || line == "PASS" || line == "FAIL" {
			cur = ""
			continue
		}
		if cur == "" {
			continue
		}
		b := logs[cur]
		if b == nil {
			b = &strings.Builder{}
			logs[cur] = b
		}
		b.WriteString(strings.TrimPrefix(line, "    "))
		b.WriteByte('\n')
	}
	m := make(map[string]string, len(logs))
	for k, b := range logs {
		m[k] = b.String()
	}
	return m
}

package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

// Options say which plugin to check and how.
type Options struct {
	// Path of the plugin binary.
	Path string
	// SHA256 pins the binary (hex); empty: no pin.
	SHA256 string
	// Settings are sent to every plugin process.
	Settings map[string]string
	// Scratch names the setting that gets a unique suffix per check
	// (BASE/RUN/check-0007), so that every check starts on an empty
	// backend; empty: none (the backend must then be empty and each check
	// sees the objects the ones before it left).
	Scratch string
	// Run, when set, selects the checks (by synctest.Checks name) to run.
	Run *regexp.Regexp
	// Skip, when set, leaves out the checks whose name it matches (a
	// backend's known limit, say), after Run.
	Skip *regexp.Regexp
	// Timeout bounds the whole run; 0 means no limit but ctx's.
	Timeout time.Duration
	// Progress, when set, is called after each check.
	Progress func(Result)
	// Described is what the plugin's -describe printed, when known: Run
	// then checks that the Info of the running backend agrees with it
	// (result "Describe/Info", first).
	Described *sdk.Info
}

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one check's outcome.
type Result struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Duration time.Duration `json:"duration"`
	// Message is the first line of the failure or skip reason; empty for
	// a passed check.
	Message string `json:"message,omitempty"`
	// Log is the check's whole log, then the plugin's stderr.
	Log string `json:"log,omitempty"`
}

// Selected returns the names of the checks run selects and skip does not
// (nil: all, none), in order.
func Selected(run, skip *regexp.Regexp) []string {
	var names []string
	for _, n := range synctest.Checks() {
		if (run == nil || run.MatchString(n)) && (skip == nil || !skip.MatchString(n)) {
			names = append(names, n)
		}
	}
	return names
}

// Run runs the selected checks of the suite against the plugin, one fresh
// plugin process per check, and returns their results in suite order.
// An error means the suite could not run at all (the plugin does not start
// with these settings, …); failed checks are results, not errors.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	selected := Selected(opts.Run, opts.Skip)
	if len(selected) == 0 {
		what := fmt.Sprintf("%q", opts.Run)
		if opts.Skip != nil {
			what += fmt.Sprintf(" and not %q", opts.Skip)
		}
		return nil, fmt.Errorf("no check matches %s (checks: %s)", what, strings.Join(synctest.Checks(), ", "))
	}
	want := map[string]bool{}
	for _, n := range selected {
		want[n] = true
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}

	r := &runner{opts: opts, runID: runID(), live: map[*sdk.Client]bool{}, stderr: map[string]*syncBuffer{}}
	defer func() {
		if r.localRun != "" {
			_ = os.RemoveAll(r.localRun)
		}
	}()

	// One launch before the suite: a plugin that does not start with these
	// settings fails once, with its own error, instead of in every check.
	c, _, err := r.launch(ctx, 0)
	if err != nil {
		return nil, err
	}
	var pre []Result
	if opts.Described != nil {
		pre = append(pre, crossCheck(ctx, c, *opts.Described))
	}
	if opts.Scratch == "" {
		if res, ok := emptyCheck(ctx, c); !ok {
			pre = append(pre, res)
		}
	}
	c.Close()
	if len(pre) > 0 && pre[len(pre)-1].Name == "Backend/Empty" {
		return pre, nil // every check would see the objects: report that alone
	}

	// The testing package's own alarm would panic the process: on timeout
	// (or ctx cancelled) kill the live plugins instead, which fails the
	// running check, and fail the ones not started yet.
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			r.closeLive()
		case <-stop:
		}
	}()
	defer func() {
		close(stop)
		<-watched
		r.closeLive() // every check closes its own; this is a backstop
	}()

	var mu sync.Mutex
	results := map[string]*Result{}
	code, output, err := runTest(func(t *testing.T) {
		var n int
		synctest.Run(t, func(t *testing.T) sdk.Backend {
			name := strings.TrimPrefix(t.Name(), "Conformance/")
			if !want[name] {
				t.SkipNow()
			}
			start := time.Now()
			t.Cleanup(func() {
				res := Result{Name: name, Status: Pass, Duration: time.Since(start)}
				switch {
				case t.Failed():
					res.Status = Fail
				case t.Skipped():
					res.Status = Skip
				}
				mu.Lock()
				results[name] = &res
				mu.Unlock()
				if opts.Progress != nil {
					opts.Progress(res)
				}
			})
			if err := ctx.Err(); err != nil {
				t.Fatalf("not run: %v", cause(ctx, opts.Timeout))
			}
			n++
			c, buf, err := r.launch(ctx, n)
			if err != nil {
				if ctx.Err() != nil {
					t.Fatalf("not run: %s (%v)", cause(ctx, opts.Timeout), err)
				}
				t.Fatal(err)
			}
			r.mu.Lock()
			r.stderr[name] = buf
			r.mu.Unlock()
			t.Cleanup(func() { r.close(c) })
			return c
		})
	})
	if err != nil {
		return nil, err
	}
	logs := splitLogs(output)
	var out []Result
	for _, name := range selected {
		res, ok := results[name]
		if !ok {
			// Never reached newBackend: the suite changed under us, or the
			// run ended early.
			out = append(out, Result{Name: name, Status: Fail, Message: "did not run", Log: output})
			continue
		}
		res.Log = logs["Conformance/"+name]
		if res.Status != Pass {
			res.Message = firstLine(res.Log)
		}
		if b := r.stderr[name]; b != nil && b.Len() > 0 {
			res.Log += "plugin stderr:\n" + b.String()
		}
		out = append(out, *res)
	}
	out = append(pre, out...)
	if code != 0 && !anyFailed(out) {
		// The testing package failed without a failed check (a flag it
		// refused, …): say so rather than report success.
		return out, fmt.Errorf("conformance: the test run failed (exit %d):\n%s", code, output)
	}
	return out, nil
}

// crossCheck compares the running backend's Info with what -describe
// printed: the host trusts the former, the suite skips by it, and the
// player reads the latter, so a plugin must not claim at run time what it
// denies in its description; the name and version must agree too. A
// capability described but withdrawn at run time (the S3 plugin's probe
// finds a store without conditional writes) is fine, and noted.
func crossCheck(ctx context.Context, c *sdk.Client, described sdk.Info) Result {
	start := time.Now()
	res := Result{Name: "Describe/Info", Status: Pass}
	info, err := c.Info(ctx)
	if err != nil {
		res.Status, res.Message = Fail, fmt.Sprintf("Info: %v", err)
		res.Log = res.Message + "\n"
		return res
	}
	var problems, notes []string
	if info.Name != described.Name || info.Version != described.Version {
		problems = append(problems, fmt.Sprintf("Info names %s %s, -describe %s %s", info.Name, info.Version, described.Name, described.Version))
	}
	for _, c := range []struct {
		name     string
		run, doc bool
	}{
		{"ConditionalWrites", info.Capabilities.ConditionalWrites, described.Capabilities.ConditionalWrites},
		{"AtomicReplace", info.Capabilities.AtomicReplace, described.Capabilities.AtomicReplace},
		{"RangedReads", info.Capabilities.RangedReads, described.Capabilities.RangedReads},
		{"NestedKeys", info.Capabilities.NestedKeys, described.Capabilities.NestedKeys},
	} {
		switch {
		case c.run && !c.doc:
			problems = append(problems, fmt.Sprintf("Info claims %s, which -describe denies (give sdk.Plugin.Info and Backend.Info one sdk.Info value)", c.name))
		case !c.run && c.doc:
			notes = append(notes, fmt.Sprintf("%s described but not offered by this backend (the checks that need it are skipped, or check its absence)", c.name))
		}
	}
	res.Duration = time.Since(start)
	if len(problems) > 0 {
		res.Status, res.Message = Fail, problems[0]
		res.Log = strings.Join(problems, "\n") + "\n"
		return res
	}
	if len(notes) > 0 {
		res.Message = notes[0]
		res.Log = strings.Join(notes, "\n") + "\n"
	}
	return res
}

// emptyCheck lists a backend that has no scratch setting: every check
// starts a new plugin process, but with no scratch setting they share the
// storage behind it, which must then start empty (an in-memory plugin
// always does).
func emptyCheck(ctx context.Context, c *sdk.Client) (Result, bool) {
	var keys []string
	err := c.List(ctx, "", func(info sdk.ObjectInfo) error {
		keys = append(keys, info.Key)
		if len(keys) == 3 {
			return errStopListing
		}
		return nil
	})
	res := Result{Name: "Backend/Empty", Status: Fail}
	switch {
	case err != nil && !errors.Is(err, errStopListing):
		res.Message = fmt.Sprintf("listing the backend before the checks: %v", err)
	case len(keys) > 0:
		res.Message = fmt.Sprintf("the backend is not empty (it holds %q…) and the plugin has no scratch setting: every check would see those objects; point it at empty storage, or name a setting with --scratch", keys)
	default:
		return res, true
	}
	res.Log = res.Message + "\n"
	return res, false
}

var errStopListing = errors.New("stop listing")

func anyFailed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

func cause(ctx context.Context, timeout time.Duration) string {
	if ctx.Err() == context.DeadlineExceeded && timeout > 0 {
		return fmt.Sprintf("the run's --timeout (%v) ran out", timeout)
	}
	return ctx.Err().Error()
}

// firstLine is the first line of a check's log without the "file.go:NN: "
// position the testing package puts in front.
func firstLine(log string) string {
	line, _, _ := strings.Cut(log, "\n")
	if pos, msg, ok := strings.Cut(line, ": "); ok && strings.Contains(pos, ".go:") && !strings.Contains(pos, " ") {
		line = msg
	}
	return strings.TrimSpace(line)
}

type runner struct {
	opts  Options
	runID string

	mu     sync.Mutex
	live   map[*sdk.Client]bool
	stderr map[string]*syncBuffer
	// localRun is BASE/RUN when the scratch setting names a local
	// directory: removed after the run.
	localRun string
}

// launch starts the plugin for check n with its own scratch location.
func (r *runner) launch(ctx context.Context, n int) (*sdk.Client, *syncBuffer, error) {
	settings := maps.Clone(r.opts.Settings)
	if settings == nil {
		settings = map[string]string{}
	}
	if r.opts.Scratch != "" {
		v, err := r.scratch(settings[r.opts.Scratch], n)
		if err != nil {
			return nil, nil, err
		}
		settings[r.opts.Scratch] = v
	}
	buf := &syncBuffer{}
	c, err := sdk.Launch(ctx, sdk.LaunchOptions{Path: r.opts.Path, SHA256: r.opts.SHA256, Settings: settings, Stderr: buf})
	if err != nil {
		return nil, buf, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		c.Close()
		return nil, buf, fmt.Errorf("plugin %s: %w", r.opts.Path, ctx.Err())
	}
	r.live[c] = true
	return c, buf, nil
}

// scratch is the value of the scratch setting for check n: BASE/RUN/check-n,
// created when BASE is a local directory.
func (r *runner) scratch(base string, n int) (string, error) {
	rel := r.runID + "/" + fmt.Sprintf("check-%04d", n)
	if base == "" {
		return rel, nil
	}
	if fi, err := os.Stat(base); err == nil && fi.IsDir() {
		dir := filepath.Join(base, filepath.FromSlash(rel))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("scratch directory for check %d: %w", n, err)
		}
		r.mu.Lock()
		r.localRun = filepath.Join(base, r.runID)
		r.mu.Unlock()
		return dir, nil
	}
	return strings.TrimSuffix(base, "/") + "/" + rel, nil
}

func (r *runner) close(c *sdk.Client) {
	c.Close()
	r.mu.Lock()
	delete(r.live, c)
	r.mu.Unlock()
}

func (r *runner) closeLive() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.live {
		c.Close()
		delete(r.live, c)
	}
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "skyloop-check-" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// syncBuffer is a bytes.Buffer safe for the plugin's stderr copier and the
// reader at the end.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// plugins builds the disk plugin and the broken test plugin once per test
// binary (CGO_ENABLED=0, as shipped) and returns their paths.
func plugins(t *testing.T) (disk, broken string) {
	t.Helper()
	pluginsOnce.Do(func() {
		// testDir is made and removed by TestMain (main_test.go).
		pluginsDir = filepath.Join(testDir, "plugin-check")
		if pluginsErr = os.MkdirAll(pluginsDir, 0o755); pluginsErr != nil {
			return
		}
		for name, pkg := range map[string]string{
			"skyloop-plugin-disk":    "github.com/skyloop-engine/skyloop/plugins/disk",
			"skyloop-plugin-broken":  "github.com/skyloop-engine/skyloop/tools/skyloop/internal/brokenplugin",
			"skyloop-plugin-planted": "github.com/skyloop-engine/skyloop/sdk/synctest/internal/plantedplugin",
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(pluginsDir, name), pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				pluginsErr = err
				t.Logf("go build %s: %s", pkg, out)
				return
			}
		}
	})
	if pluginsErr != nil {
		t.Fatalf("build plugins: %v", pluginsErr)
	}
	return filepath.Join(pluginsDir, "skyloop-plugin-disk"), filepath.Join(pluginsDir, "skyloop-plugin-broken")
}

func runPlugin(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	t.Logf("skyloop %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// resultRe matches a table row: check name, result, time.
var resultRe = regexp.MustCompile(`(?m)^(\S+)\s+(pass|fail|skip)\s+\S+`)

func tableResults(stdout string) map[string]string {
	m := map[string]string{}
	for _, row := range resultRe.FindAllStringSubmatch(stdout, -1) {
		m[row[1]] = row[2]
	}
	return m
}

// The common case: the real disk plugin, no settings (root becomes a
// temporary directory), every check of the suite listed, none failed.
func TestPluginCheckDisk(t *testing.T) {
	disk, _ := plugins(t)
	code, stdout, stderr := runPlugin(t, "plugin", "check", disk)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	got := tableResults(stdout)
	for _, name := range synctest.Checks() {
		switch got[name] {
		case "pass", "skip":
		default:
			t.Errorf("check %s: result %q in the table, want pass or skip", name, got[name])
		}
	}
	if got["Describe/Info"] != "pass" {
		t.Errorf("Describe/Info: %q, want pass", got["Describe/Info"])
	}
	if len(got) != len(synctest.Checks())+1 {
		t.Errorf("table has %d rows, want %d (the suite and Describe/Info)", len(got), len(synctest.Checks())+1)
	}
	if !strings.Contains(stdout, " 0 failed") {
		t.Errorf("summary does not say 0 failed")
	}
	if !strings.Contains(stderr, "temporary directory") {
		t.Errorf("stderr does not mention the temporary root")
	}
}

// An explicit root and --run: only the matching checks run, each in its own
// directory under root, and the run leaves root as it found it.
func TestPluginCheckRunSubsetWithRoot(t *testing.T) {
	disk, _ := plugins(t)
	root := filepath.Join(t.TempDir(), "not-yet")
	code, stdout, _ := runPlugin(t, "plugin", "check", disk, "--set", "root="+root, "--set", "fsync=false", "--run", "^(IfMatch|Range/Head)")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	got := tableResults(stdout)
	want := []string{"Describe/Info", "IfMatch/Current", "IfMatch/Stale", "IfMatch/Missing", "Range/Head"}
	if len(got) != len(want) {
		t.Errorf("table rows %v, want %v", got, want)
	}
	for _, name := range want {
		if got[name] != "pass" {
			t.Errorf("check %s: %q, want pass", name, got[name])
		}
	}
	if !strings.Contains(stdout, "5 passed, 0 skipped, 0 failed") {
		t.Errorf("summary line missing or wrong")
	}
	if ents, err := os.ReadDir(root); err != nil || len(ents) != 0 {
		t.Errorf("root after the run: %v entries (%v), want it empty", len(ents), err)
	}
}

// The broken plugin ignores stale If-Match ETags: exactly IfMatch/Stale,
// Neighbours/Conditional (an ETag of another key) and Conditional/Refused
// (an ETag that matches nothing) fail, the run exits 1 and names them,
// their logs go to stderr.
func TestPluginCheckBroken(t *testing.T) {
	_, broken := plugins(t)
	code, stdout, stderr := runPlugin(t, "plugin", "check", broken)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	got := tableResults(stdout)
	for _, name := range append(synctest.Checks(), "Describe/Info") {
		want := "pass"
		if name == "IfMatch/Stale" || name == "Neighbours/Conditional" || name == "Conditional/Refused" {
			want = "fail"
		}
		if got[name] != want {
			t.Errorf("check %s: %q, want %s", name, got[name], want)
		}
	}
	if !regexp.MustCompile(`(?m)^IfMatch/Stale\s+fail\s+\S+\s+Put with a stale IfMatch ETag`).MatchString(stdout) {
		t.Errorf("table row of IfMatch/Stale lacks the failure's first line")
	}
	if want := fmt.Sprintf("%d passed, 0 skipped, 3 failed", len(synctest.Checks())-2); !strings.Contains(stdout, want) {
		t.Errorf("summary line is not %q", want)
	}
	if !strings.Contains(stderr, "--- FAIL: IfMatch/Stale") || !strings.Contains(stderr, "suite.go:") {
		t.Errorf("stderr lacks the failing check's log")
	}
	if want := fmt.Sprintf("fails 3 of %d checks: IfMatch/Stale, Conditional/Refused, Neighbours/Conditional", len(synctest.Checks())+1); !strings.Contains(stderr, want) {
		t.Errorf("stderr does not name the failing check")
	}
}

// --skip leaves out the checks it matches, after --run: a plugin author
// can keep a backend's known limit out of the run and still see every
// other check pass.
func TestPluginCheckSkip(t *testing.T) {
	disk, _ := plugins(t)
	code, stdout, _ := runPlugin(t, "plugin", "check", disk, "--set", "fsync=false", "--run", "^(IfMatch|Range/Head)", "--skip", "Stale|Head")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	got := tableResults(stdout)
	for _, name := range []string{"IfMatch/Current", "IfMatch/Missing"} {
		if got[name] != "pass" {
			t.Errorf("check %s: %q, want pass (rows %v)", name, got[name], got)
		}
	}
	for _, name := range []string{"IfMatch/Stale", "Range/Head"} {
		if _, ran := got[name]; ran {
			t.Errorf("check %s ran though --skip matches it (rows %v)", name, got)
		}
	}
	if !strings.Contains(stdout, "2 checks") || !strings.Contains(stdout, "3 passed, 0 skipped, 0 failed") {
		t.Errorf("want 2 checks selected and 3 passed (Describe/Info too):\n%s", stdout)
	}
	if code, _, stderr := runPlugin(t, "plugin", "check", disk, "--run", "^Range/Head$", "--skip", "Head"); code == 0 || !strings.Contains(stderr, `and not "Head"`) {
		t.Errorf("everything skipped: exit %d, %q; want an error naming both patterns", code, stderr)
	}
}

func TestPluginCheckUsage(t *testing.T) {
	disk, _ := plugins(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plugin", "check", disk, "--set", "root"}, `--set "root": want the form key=value`},
		{[]string{"plugin", "check", disk, "--set", "=x"}, `want the form key=value`},
		{[]string{"plugin", "check", disk, "--run", "("}, `--run "("`},
		{[]string{"plugin", "check", disk, "--skip", "["}, `--skip "["`},
		{[]string{"plugin", "check"}, "want exactly one argument"},
		{[]string{"plugin", "check", disk, "--scratch", "bucket"}, `--scratch "bucket": plugin disk declares no such setting`},
		{[]string{"plugin", "check", disk, "--sha256", "xyz"}, "--sha256"},
		{[]string{"plugin", "check", disk, "--nope"}, "unknown flag"},
		{[]string{"plugin", "frobnicate"}, "unknown subcommand"},
	} {
		code, _, stderr := runPlugin(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestPluginCheckErrors(t *testing.T) {
	disk, _ := plugins(t)
	notExec := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plugin", "check", filepath.Join(t.TempDir(), "skyloop-plugin-none")}, "not found"},
		{[]string{"plugin", "check", notExec}, "not executable"},
		{[]string{"plugin", "check", disk, "--sha256", strings.Repeat("ab", 32)}, "not the pinned"},
		// The plugin's own errors reach the user.
		{[]string{"plugin", "check", disk, "--set", "fsync=maybe"}, `fsync = "maybe" is not a boolean`},
		{[]string{"plugin", "check", disk, "--set", "bogus=1"}, `unknown setting "bogus"`},
		{[]string{"plugin", "check", disk, "--run", "NoSuchCheck"}, "no check matches"},
	} {
		code, _, stderr := runPlugin(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestPluginDescribe(t *testing.T) {
	disk, _ := plugins(t)
	code, stdout, _ := runPlugin(t, "plugin", "describe", disk)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, re := range []string{`(?m)^name:\s+disk$`, `(?m)^\s+root\s+required\s+directory`, `(?m)^\s+fsync\s+optional`, `conditional writes:\s+yes`} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("describe output lacks %s", re)
		}
	}

	code, stdout, _ = runPlugin(t, "plugin", "describe", "--json", disk)
	if code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	var d pluginDescription
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatalf("--json output does not parse: %v", err)
	}
	if d.Info.Name != "disk" || len(d.Settings) == 0 || d.Settings[0].Name != "root" || !d.Settings[0].Required || !d.Info.Capabilities.ConditionalWrites {
		t.Errorf("--json: %+v", d)
	}
}

func TestPluginDescribeErrors(t *testing.T) {
	dir := t.TempDir()
	notPlugin := filepath.Join(dir, "not-a-plugin")
	if err := os.WriteFile(notPlugin, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing"), "not found"},
		{dir, "is a directory"},
		{notPlugin, "not a skyloop plugin description"},
	} {
		code, _, stderr := runPlugin(t, "plugin", "describe", tc.path)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("describe %s: exit %d, stderr %q; want exit 1 and %q", tc.path, code, stderr, tc.want)
		}
	}
}

// Checks that need a capability the plugin denies are skipped, with the
// reason in the table; skips do not fail the run.
func TestPluginCheckSkips(t *testing.T) {
	_, broken := plugins(t)
	code, stdout, _ := runPlugin(t, "-v", "plugin", "check", broken, "--set", "no_ranged_reads=1", "--run", "^(Info|Range/)")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	got := tableResults(stdout)
	if got["Info"] != "pass" {
		t.Errorf("Info: %q, want pass", got["Info"])
	}
	var ranges int
	for _, name := range synctest.Checks() {
		if strings.HasPrefix(name, "Range/") {
			ranges++
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+skip\s+\S+\s+backend lacks capability RangedReads$`).MatchString(stdout) {
				t.Errorf("%s: no skip row naming the capability", name)
			}
		}
	}
	if want := fmt.Sprintf("2 passed, %d skipped, 0 failed", ranges); !strings.Contains(stdout, want) {
		t.Errorf("summary is not %q", want)
	}
}

// Describe/Info: a backend whose Info claims a capability that -describe
// denies fails the cross-check, naming it.
func TestPluginCheckDescribeMismatch(t *testing.T) {
	_, broken := plugins(t)
	code, stdout, _ := runPlugin(t, "plugin", "check", broken, "--set", "claim_nested=1", "--run", "^Info$")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !regexp.MustCompile(`(?m)^Describe/Info\s+fail\s+\S+\s+Info claims NestedKeys, which -describe denies`).MatchString(stdout) {
		t.Errorf("no failing Describe/Info row naming NestedKeys")
	}
}

// --json: one document on stdout with every check, parseable, whose counts
// agree with the checks listed.
func TestPluginCheckJSON(t *testing.T) {
	_, broken := plugins(t)
	code, stdout, _ := runPlugin(t, "plugin", "check", broken, "--json", "--run", "^(IfMatch|Stat$)")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (IfMatch/Stale fails)", code)
	}
	var rep struct {
		Path   string `json:"path"`
		Plugin struct {
			Name string `json:"name"`
		} `json:"plugin"`
		Passed, Skipped, Failed int
		Checks                  []struct {
			Name, Status, Message, Log string
			Seconds                    float64
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v", err)
	}
	if rep.Plugin.Name != "broken" || rep.Path != broken {
		t.Errorf("plugin %q path %q", rep.Plugin.Name, rep.Path)
	}
	status := map[string]string{}
	for _, c := range rep.Checks {
		status[c.Name] = c.Status
		if c.Status == "fail" && (c.Message == "" || !strings.Contains(c.Log, "suite.go:")) {
			t.Errorf("failed check %s lacks its message or log: %+v", c.Name, c)
		}
	}
	want := map[string]string{"Describe/Info": "pass", "Stat": "pass", "IfMatch/Current": "pass", "IfMatch/Stale": "fail", "IfMatch/Missing": "pass"}
	if !maps.Equal(status, want) {
		t.Errorf("checks %v, want %v", status, want)
	}
	if rep.Passed != 4 || rep.Failed != 1 || rep.Skipped != 0 {
		t.Errorf("counts %d/%d/%d, want 4 passed, 0 skipped, 1 failed", rep.Passed, rep.Skipped, rep.Failed)
	}
}

// With no scratch setting, a backend that is not empty is reported before
// any check runs, instead of failing checks one by one.
func TestPluginCheckNotEmpty(t *testing.T) {
	disk, _ := plugins(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "left"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "left", "over"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runPlugin(t, "plugin", "check", disk, "--set", "root="+root, "--scratch", "")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stdout, "Backend/Empty") || !strings.Contains(stdout, `"left/over"`) {
		t.Errorf("no Backend/Empty row naming the object left behind")
	}
	if !strings.Contains(stderr, "share its storage") {
		t.Errorf("stderr lacks the note on shared storage")
	}
}

// throughProcessMasked are the planted bugs a plugin process cannot show
// the host: the sdk does that part right for every plugin (Serve validates
// keys, its body reader fails on cancellation, the wire copies metadata,
// the host's List stops at the callback's first error),
// or the host's buffering hides the race (a plugin's List has sent all of
// a small listing before the host's callback runs; a Get has written the
// whole object before the host's writer sees a byte); either outcome is
// accepted for them. The in-process suite catches each of them on every
// run (sdk/synctest's TestPlantedBugs).
var throughProcessMasked = map[string]string{
	"no-key-validation": "Serve validates every key",
	"ignores-cancel":    "the body reader Serve hands to Put fails on cancellation",
	"metadata-aliased":  "metadata crosses the wire as a copy",
	"list-holds-lock":   "the plugin's List finishes sending before the host's callback runs",
	"get-rereads-info":  "the plugin's Get finishes before the host's writer runs",
	"list-ignores-stop": "the host stops calling fn at its first error, whatever the plugin sends",
	// Caught on some runs: the plugin's List may have sent the whole
	// listing before the host's callback deletes anything.
	"list-paged-by-index": "the plugin's List may run ahead of the host's callback by the transport's buffers",
}

// The planted bugs, through a real plugin process and `skyloop plugin
// check`: every one the process boundary does not mask fails its check.
func TestPluginCheckCatchesPlantedBugs(t *testing.T) {
	plugins(t)
	path := filepath.Join(pluginsDir, "skyloop-plugin-planted")
	list, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/skyloop-engine/skyloop/sdk/synctest/internal/planted").Output()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(list)), "planted.go"))
	if err != nil {
		t.Fatal(err)
	}
	// The mutants' table, read from the source (the package is internal to
	// sdk/synctest).
	rows := regexp.MustCompile(`(?m)^\s*\{"([a-z0-9-]+)", "([A-Za-z/]+)", "`).FindAllStringSubmatch(string(src), -1)
	if len(rows) < 30 {
		t.Fatalf("found %d mutants in planted.go, want the whole table", len(rows))
	}
	var mu sync.Mutex
	var caught, masked []string
	t.Run("bugs", func(t *testing.T) {
		for _, row := range rows {
			bug, check := row[1], row[2]
			t.Run(bug, func(t *testing.T) {
				t.Parallel()
				var out, errb bytes.Buffer
				code := run(context.Background(), []string{"plugin", "check", path, "--set", "bug=" + bug, "--run", "^" + regexp.QuoteMeta(check) + "$"}, &out, &errb)
				failed := code == 1 && tableResults(out.String())[check] == "fail"
				why, isMasked := throughProcessMasked[bug]
				mu.Lock()
				defer mu.Unlock()
				switch {
				case failed:
					caught = append(caught, bug)
					if isMasked {
						t.Logf("%s: caught through the process too, although listed as masked (%s)", bug, why)
					}
				case isMasked:
					masked = append(masked, bug)
				default:
					t.Errorf("plugin check passed the planted bug %s (check %s) through a plugin process (exit %d):\n%s\n%s", bug, check, code, out.String(), errb.String())
				}
			})
		}
	})
	t.Logf("through a plugin process: %d of %d planted bugs caught; masked by the sdk or the transport: %v", len(caught), len(rows), masked)
}

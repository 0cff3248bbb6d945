package docs

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

// sampleSection is the README heading above the sample game.
const sampleSection = "Write a game"

// pluginSection is the README heading above the sample plugin, named
// skyloop-plugin-mystore in the commands that follow it.
const pluginSection = "Sinks and plugins"

// fragmentImports are the packages a fragment may use without importing
// them: a fragment that names X.Something, for an X below, gets X's import.
var fragmentImports = map[string]string{
	"bytes":    "bytes",
	"color":    "image/color",
	"context":  "context",
	"errors":   "errors",
	"fmt":      "fmt",
	"image":    "image",
	"io":       "io",
	"log":      "log",
	"os":       "os",
	"strings":  "strings",
	"testing":  "testing",
	"time":     "time",
	"engine":   modulePath + "/engine",
	"gfx":      modulePath + "/engine/gfx",
	"input":    modulePath + "/engine/input",
	"config":   modulePath + "/engine/config",
	"segment":  modulePath + "/engine/segment",
	"saves":    modulePath + "/engine/saves",
	"sdk":      modulePath + "/sdk",
	"synctest": modulePath + "/sdk/synctest",
}

// sampleGame returns the README's sample game: the ```go program under
// sampleSection.
func sampleGame(t testing.TB) (block, bool) {
	t.Helper()
	for _, b := range blocksOf(t, "go") {
		if b.File == "README.md" && b.Section == sampleSection && hasPackageClause(b.Body) {
			return b, true
		}
	}
	return block{}, false
}

// tokens returns the Go tokens of src, comments left out.
func tokens(src string) []token.Token {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", fset.Base(), len(src)), []byte(src), nil, 0)
	var toks []token.Token
	for {
		_, tok, _ := s.Scan()
		if tok == token.EOF {
			return toks
		}
		toks = append(toks, tok)
	}
}

// hasPackageClause says whether src starts (after comments) with a
// package clause: a complete Go file rather than a fragment.
func hasPackageClause(src string) bool {
	toks := tokens(src)
	return len(toks) > 0 && toks[0] == token.PACKAGE
}

// selectorRoots returns the identifiers X of every X.Y in src that is not
// itself part of a longer selector (a.X.Y).
func selectorRoots(src string) map[string]bool {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", fset.Base(), len(src)), []byte(src), nil, 0)
	roots := map[string]bool{}
	var prev2, prev token.Token
	var prevLit string
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return roots
		}
		if tok == token.PERIOD && prev == token.IDENT && prev2 != token.PERIOD {
			roots[prevLit] = true
		}
		prev2, prev, prevLit = prev, tok, lit
	}
}

var testFunc = regexp.MustCompile(`(?m)^func ((Test|Benchmark|Example|Fuzz)\w*)\(`)

// wrapFragment makes a Go file of a fragment, in package pkg (the rule is
// in the package doc): the imports it needs from fragmentImports, then the
// fragment under a //line directive, so that compile errors name the
// Markdown file and line.
func wrapFragment(b block, pkg string) (name, src string) {
	var imports []string
	for root := range selectorRoots(b.Body) {
		if p, ok := fragmentImports[root]; ok {
			imports = append(imports, p)
		}
	}
	slices.Sort(imports)
	var sb strings.Builder
	fmt.Fprintf(&sb, "// Code extracted from %s (see docs/doc.go).\n\npackage %s\n\n", b.where(), pkg)
	if len(imports) > 0 {
		sb.WriteString("import (\n")
		for _, p := range imports {
			fmt.Fprintf(&sb, "\t%q\n", p)
		}
		sb.WriteString(")\n\n")
	}
	fmt.Fprintf(&sb, "//line %s:%d\n%s", b.File, b.bodyLine(), b.Body)
	name = fmt.Sprintf("fragment_%d.go", b.Line)
	if testFunc.MatchString(b.Body) {
		name = fmt.Sprintf("fragment_%d_test.go", b.Line)
	}
	return name, sb.String()
}

type programKind int

const (
	notProgram programKind = iota // a package of fragments only
	plainProgram
	gameProgram   // imports engine
	pluginProgram // calls sdk.Serve
)

// goUnit is one package to compile: a complete program (or file) with the
// fragments that follow it, or a fragment with no program above it.
type goUnit struct {
	name   string // module name and subtest name, e.g. readme-7
	first  block  // the program, or the lone fragment
	kind   programKind
	files  map[string]string
	blocks []string // where each block came from
	tests  []string // the Test functions its fragments declare
}

// goUnits groups the ```go blocks of every Markdown file by the rule in
// the package doc.
func goUnits(t testing.TB) []*goUnit {
	t.Helper()
	var units []*goUnit
	var host *goUnit // the last program of the current file
	var hostPkg, file string
	for _, b := range blocksOf(t, "go") {
		if b.File != file {
			host, file = nil, b.File
		}
		name := fmt.Sprintf("%s-%d", strings.ToLower(strings.TrimSuffix(filepath.Base(b.File), ".md")), b.Line)
		if hasPackageClause(b.Body) {
			f, err := parser.ParseFile(token.NewFileSet(), b.where(), b.Body, parser.ImportsOnly)
			if err != nil {
				t.Fatalf("%s: %v", b.where(), err)
			}
			u := &goUnit{name: name, first: b, kind: plainProgram, files: map[string]string{}, blocks: []string{b.where()}}
			if f.Name.Name != "main" {
				u.kind = notProgram
			}
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == modulePath+"/engine" && u.kind == plainProgram {
					u.kind = gameProgram
				}
			}
			if u.kind == plainProgram && strings.Contains(b.Body, "sdk.Serve(") {
				u.kind = pluginProgram
			}
			u.files[fmt.Sprintf("snippet_%d.go", b.Line)] = fmt.Sprintf("//line %s:%d\n%s", b.File, b.bodyLine(), b.Body)
			units = append(units, u)
			host, hostPkg = u, f.Name.Name
			continue
		}
		u, pkg := host, hostPkg
		if u == nil {
			u = &goUnit{name: name, first: b, kind: notProgram, files: map[string]string{}}
			pkg = "snippet"
			units = append(units, u)
		}
		fname, src := wrapFragment(b, pkg)
		u.files[fname] = src
		u.blocks = append(u.blocks, b.where())
		for _, m := range testFunc.FindAllStringSubmatch(b.Body, -1) {
			if m[2] == "Test" {
				u.tests = append(u.tests, m[1])
			}
		}
	}
	return units
}

func TestWrapFragment(t *testing.T) {
	b := block{File: "README.md", Line: 10, Lang: "go", Body: "func TestX(t *testing.T) {\n\tvar _ sdk.Backend = x.sdk.Y // a.fmt.Z\n}\n"}
	name, src := wrapFragment(b, "main")
	want := "// Code extracted from README.md:10 (see docs/doc.go).\n\npackage main\n\nimport (\n\t\"github.com/skyloop-engine/skyloop/sdk\"\n\t\"testing\"\n)\n\n//line README.md:11\n" + b.Body
	if name != "fragment_10_test.go" || src != want {
		t.Errorf("wrapFragment = %q,\n%s\nwant fragment_10_test.go,\n%s", name, src, want)
	}
	if name, _ := wrapFragment(block{File: "a.md", Line: 3, Body: "x := 1\n"}, "snippet"); name != "fragment_3.go" {
		t.Errorf("wrapFragment of a non-test fragment named it %s", name)
	}
}

// TestGoBlocks compiles every ```go block of README.md and docs/*.md in a
// module of its own outside the repository, runs the tests its fragments
// declare, and builds and runs every program (see the package doc).
func TestGoBlocks(t *testing.T) {
	units := goUnits(t)
	if len(units) == 0 {
		t.Fatal("no ```go blocks found")
	}
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			t.Logf("blocks: %s", strings.Join(u.blocks, ", "))
			dir := newModule(t, u.name, u.files)
			env := goEnv(t)
			mustRun(t, budget(t, 15*time.Minute), dir, env, "go", "vet", "./...")
			if len(u.tests) > 0 {
				r := run(budget(t, 10*time.Minute), dir, env, "go", "test", "-count=1", "-timeout", "8m", "-v", "./...")
				if r.err != nil {
					r.stdout = withoutPasses(r.stdout)
					t.Fatal(r)
				}
				for _, name := range u.tests {
					if !strings.Contains(r.stdout, "--- PASS: "+name+" ") {
						t.Errorf("go test in the snippet module: %s did not run and pass\n%s", name, r.output())
					}
				}
			}
			if u.kind == notProgram {
				return
			}
			bin := filepath.Join(t.TempDir(), u.name)
			mustRun(t, budget(t, 15*time.Minute), dir, env, "go", "build", "-o", bin, ".")
			switch u.kind {
			case gameProgram:
				enginetest.RequireDisplay(t)
				checkGame(t, u, bin)
			case pluginProgram:
				checkPlugin(t, u, bin)
			default:
				mustRun(t, budget(t, 2*time.Minute), filepath.Dir(bin), nil, bin)
			}
		})
	}
}

// withoutPasses drops the lines of passing and starting tests from `go
// test -v` output, leaving the failures readable.
func withoutPasses(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- PASS") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

var checkSummary = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) skipped, (\d+) failed`)

// checkPlugin proves a plugin program out of process with the tool: built
// as skyloop-plugin-NAME (NAME from its own description), described, and
// checked with the conformance suite.
func checkPlugin(t *testing.T, u *goUnit, bin string) {
	tool := skyloopTool(t)
	r := mustRun(t, budget(t, time.Minute), filepath.Dir(bin), nil, tool, "plugin", "describe", "--json", bin)
	var d struct {
		Info     sdk.Info `json:"info"`
		Settings []struct {
			Name     string `json:"name"`
			Required bool   `json:"required"`
		} `json:"settings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("plugin describe --json: %v\n%s", err, r.output())
	}
	if !regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`).MatchString(d.Info.Name) {
		t.Fatalf("plugin describe --json: name %q is not a plugin name (skyloop-plugin-NAME)", d.Info.Name)
	}
	caps := d.Info.Capabilities
	if u.first.File == "README.md" && u.first.Section == pluginSection {
		// What the README says of it: skyloop-plugin-mystore, every capability.
		if d.Info.Name != "mystore" || d.Info.Version != "0.1.0" || !caps.ConditionalWrites || !caps.RangedReads || !caps.AtomicReplace {
			t.Errorf("the README's plugin describes itself as %+v; the README calls it skyloop-plugin-mystore 0.1.0 with conditional writes, ranged reads and atomic replace", d.Info)
		}
	}
	for _, s := range d.Settings {
		if s.Required {
			t.Fatalf("plugin %s requires setting %q: a documented plugin must be checkable as shown, without settings", d.Info.Name, s.Name)
		}
	}
	path := filepath.Join(filepath.Dir(bin), "skyloop-plugin-"+d.Info.Name)
	if err := os.Rename(bin, path); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, budget(t, time.Minute), filepath.Dir(path), nil, tool, "plugin", "describe", path)
	for _, want := range []string{d.Info.Name, d.Info.Version} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("skyloop plugin describe %s does not show %q:\n%s", path, want, r.output())
		}
	}
	r = run(budget(t, 10*time.Minute), filepath.Dir(path), nil, tool, "plugin", "check", path)
	if r.err != nil {
		t.Fatalf("skyloop plugin check %s: %v (want exit 0)\n%s", path, r.err, r.output())
	}
	m := checkSummary.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("skyloop plugin check printed no summary line (N passed, N skipped, N failed):\n%s", r.output())
	}
	t.Logf("skyloop plugin check %s: %s", path, m[0])
	passed, _ := strconv.Atoi(m[1])
	skipped, _ := strconv.Atoi(m[2])
	failed, _ := strconv.Atoi(m[3])
	all := len(synctest.Checks()) + 1 // and Describe/Info
	if failed != 0 || passed+skipped != all {
		t.Errorf("skyloop plugin check: %d passed, %d skipped, %d failed; want all %d checks run and none failed", passed, skipped, failed, all)
	}
	if caps.ConditionalWrites && caps.RangedReads && caps.AtomicReplace && caps.NestedKeys && skipped != 0 {
		t.Errorf("skyloop plugin check skipped %d checks of a plugin that declares every capability", skipped)
	}
}

package docs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// modulePath is the module the documentation is about.
const modulePath = "github.com/skyloop-engine/skyloop"

// block is one fenced code block of a Markdown file.
type block struct {
	File    string // path relative to the repository root, e.g. "README.md"
	Line    int    // line number of the opening fence
	Lang    string // first word of the info string; "" when there is none
	Section string // text of the nearest heading above the block
	Body    string // the lines between the fences, each ending in "\n"
}

func (b block) where() string { return fmt.Sprintf("%s:%d", b.File, b.Line) }

// bodyLine is the line number, in File, of the block's first body line.
func (b block) bodyLine() int { return b.Line + 1 }

// parseBlocks returns the fenced code blocks of a Markdown file: a fence
// is a line of three or more backticks (or tildes), indented by at most
// three spaces, and ends at a line of at least as many of the same
// character and nothing else. Headings are tracked outside fences only.
func parseBlocks(file string, data []byte) ([]block, error) {
	var (
		blocks  []block
		section string
		open    *block
		fence   string // the opening fence's run of ` or ~
		indent  int
		body    strings.Builder
	)
	lines := strings.Split(string(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))), "\n")
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " ")
		ind := len(line) - len(trimmed)
		if open != nil {
			if ind <= 3 && strings.HasPrefix(trimmed, fence) && strings.Trim(strings.TrimSpace(trimmed), fence[:1]) == "" {
				open.Body = body.String()
				blocks = append(blocks, *open)
				open = nil
				continue
			}
			// Body lines lose up to the opening fence's indentation.
			strip := min(indent, len(line)-len(strings.TrimLeft(line, " ")))
			body.WriteString(line[strip:])
			body.WriteString("\n")
			continue
		}
		if ind > 3 {
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			if h := strings.TrimLeft(trimmed, "#"); len(trimmed)-len(h) <= 6 && (h == "" || h[0] == ' ') {
				section = strings.TrimSpace(h)
			}
			continue
		}
		for _, c := range []string{"`", "~"} {
			if !strings.HasPrefix(trimmed, c+c+c) {
				continue
			}
			n := len(trimmed) - len(strings.TrimLeft(trimmed, c))
			info := strings.TrimSpace(trimmed[n:])
			if c == "`" && strings.Contains(info, "`") {
				break // an inline code span, not a fence
			}
			lang := ""
			if f := strings.Fields(info); len(f) > 0 {
				lang = strings.ToLower(f[0])
			}
			open = &block{File: file, Line: i + 1, Lang: lang, Section: section}
			fence, indent = trimmed[:n], ind
			body.Reset()
			break
		}
	}
	if open != nil {
		return nil, fmt.Errorf("%s: the code block opened with %s is never closed", open.where(), fence)
	}
	return blocks, nil
}

// repoRoot is the checkout: the tests run in docs/, its parent holds go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.Contains(data, []byte("module "+modulePath+"\n")) {
		t.Fatalf("%s is not the checkout of %s (go.mod: %v)", root, modulePath, err)
	}
	return root
}

// docFiles are the Markdown files whose code is tested: README.md and
// docs/*.md, relative to the repository root.
func docFiles(t testing.TB) []string {
	t.Helper()
	root := repoRoot(t)
	matches, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, m := range matches {
		files = append(files, filepath.Join("docs", filepath.Base(m)))
	}
	sort.Strings(files[1:])
	return files
}

var (
	blocksOnce sync.Once
	blocksAll  []block
	blocksErr  error
)

// allBlocks reads every code block of docFiles, once per test binary.
func allBlocks(t testing.TB) []block {
	t.Helper()
	root := repoRoot(t)
	files := docFiles(t)
	blocksOnce.Do(func() {
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				blocksErr = err
				return
			}
			bs, err := parseBlocks(f, data)
			if err != nil {
				blocksErr = err
				return
			}
			blocksAll = append(blocksAll, bs...)
		}
	})
	if blocksErr != nil {
		t.Fatal(blocksErr)
	}
	return blocksAll
}

// blocksOf returns the blocks whose language is one of langs.
func blocksOf(t testing.TB, langs ...string) []block {
	t.Helper()
	var out []block
	for _, b := range allBlocks(t) {
		for _, l := range langs {
			if b.Lang == l {
				out = append(out, b)
			}
		}
	}
	return out
}

func TestParseBlocks(t *testing.T) {
	md := "# Title\n\ntext\n\n## Write a game\n\n```go\npackage main\n```\n\n" +
		"  ~~~~toml extra\n  a = 1\n   b = 2\n  ~~~~~\n\n" +
		"```\n```go\n```\n" + // an untagged block whose body is a fence-like line
		"``not a fence``\n"
	got, err := parseBlocks("x.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []block{
		{File: "x.md", Line: 7, Lang: "go", Section: "Write a game", Body: "package main\n"},
		{File: "x.md", Line: 11, Lang: "toml", Section: "Write a game", Body: "a = 1\n b = 2\n"},
		{File: "x.md", Line: 16, Lang: "", Section: "Write a game", Body: "```go\n"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseBlocks:\n got %+v\nwant %+v", got, want)
	}
	if _, err := parseBlocks("y.md", []byte("```go\nfunc f() {}\n")); err == nil || !strings.Contains(err.Error(), "y.md:1") {
		t.Errorf("unclosed fence: err = %v, want one naming y.md:1", err)
	}
}

// TestBlocksFound guards the extraction itself: if the README's blocks
// stopped being found (a renamed section, a broken fence), every other test
// here would pass on nothing.
func TestBlocksFound(t *testing.T) {
	counts := map[string]int{}
	for _, b := range allBlocks(t) {
		if b.File == "README.md" {
			key := b.Lang
			if b.Lang == "go" {
				key = "go fragment"
				if hasPackageClause(b.Body) {
					key = "go program"
				}
			}
			counts[key]++
		}
	}
	for kind, min := range map[string]int{"go program": 2, "go fragment": 1, "toml": 1, "sh": 3} {
		if counts[kind] < min {
			t.Errorf("README.md: %d %s blocks found, want at least %d (found: %v)", counts[kind], kind, min, counts)
		}
	}
	if _, ok := sampleGame(t); !ok {
		t.Errorf("README.md: no ```go program under the heading %q (the sample game the tests check pixel by pixel)", sampleSection)
	}
}

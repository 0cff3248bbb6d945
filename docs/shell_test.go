package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// toolCall is one `skyloop …` command line shown in a shell block.
type toolCall struct {
	where string   // file:line
	line  string   // the command as shown
	path  []string // subcommand words, e.g. [plugin check]
	flags []string // --flags shown after them
}

var (
	commandSep = regexp.MustCompile(`\s*(?:&&|\|\||;|\s\|\s)\s*`)
	subWord    = regexp.MustCompile(`^[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*$`)
	flagWord   = regexp.MustCompile(`(?:^|[\s\[|])(--[a-z][a-z0-9-]*)`)
)

// shellCommands splits a shell block into commands: comments cut off
// ("#" at the start or after a space), then split at ;, &&, || and " | ".
// untagged blocks (synopses) contribute only lines that start with skyloop.
func shellCommands(b block) (cmds []string, lines []int) {
	for i, line := range strings.Split(b.Body, "\n") {
		if j := strings.Index(line, " #"); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "$ "))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if b.Lang == "" && !isSkyloop(strings.Fields(line)[0]) {
			continue
		}
		for _, c := range commandSep.Split(line, -1) {
			if c = strings.TrimSpace(c); c != "" {
				cmds = append(cmds, c)
				lines = append(lines, b.bodyLine()+i)
			}
		}
	}
	return cmds, lines
}

func isSkyloop(word string) bool { return word == "skyloop" || strings.HasSuffix(word, "/skyloop") }

// parseToolCall takes a skyloop command apart: the subcommand words up to
// the first argument placeholder (SESSION, PATH, [--x], path/to/…), with
// a|b|c alternatives expanded into one call each, and the --flags shown.
func parseToolCall(where, cmd string) []toolCall {
	words := strings.Fields(cmd)
	if len(words) == 0 || !isSkyloop(words[0]) {
		return nil
	}
	rest := words[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") { // global flags before the subcommand
		if rest[0] == "--config" && len(rest) > 1 {
			rest = rest[1:]
		}
		rest = rest[1:]
	}
	var sub []string
	for len(rest) > 0 && subWord.MatchString(rest[0]) {
		sub, rest = append(sub, rest[0]), rest[1:]
	}
	var flags []string
	for _, m := range flagWord.FindAllStringSubmatch(strings.Join(rest, " "), -1) {
		if !slices.Contains(flags, m[1]) {
			flags = append(flags, m[1])
		}
	}
	paths := [][]string{nil}
	for _, w := range sub {
		var next [][]string
		for _, p := range paths {
			for _, alt := range strings.Split(w, "|") {
				next = append(next, append(slices.Clone(p), alt))
			}
		}
		paths = next
	}
	var calls []toolCall
	for _, p := range paths {
		calls = append(calls, toolCall{where: where, line: cmd, path: p, flags: flags})
	}
	return calls
}

func TestParseToolCall(t *testing.T) {
	for cmd, want := range map[string]string{
		"skyloop bench encode|transport|capture":                    "[bench encode] [bench transport] [bench capture]",
		"bin/skyloop plugin check ./x --set url=…":                  "[plugin check --set]",
		"skyloop export SESSION --format png|gif --out P [--fps F]": "[export --format --out --fps]",
		"skyloop --config F verify SESSION [--sink NAME]":           "[verify --sink]",
		"skyloop": "[]",
	} {
		var got []string
		for _, c := range parseToolCall("x", cmd) {
			got = append(got, fmt.Sprint(append(c.path, c.flags...)))
		}
		if s := strings.Join(got, " "); s != want {
			t.Errorf("parseToolCall(%q) = %s, want %s", cmd, s, want)
		}
	}
	cmds, _ := shellCommands(block{Lang: "sh", Body: "make build && bin/arena -x   # play\n# comment\na | skyloop serve; skyloop verify X\n"})
	if want := []string{"make build", "bin/arena -x", "a", "skyloop serve", "skyloop verify X"}; !slices.Equal(cmds, want) {
		t.Errorf("shellCommands = %q, want %q", cmds, want)
	}
	cmds, _ = shellCommands(block{Body: "missing segment: 1\nskyloop sessions [--json]\n"})
	if want := []string{"skyloop sessions [--json]"}; !slices.Equal(cmds, want) {
		t.Errorf("shellCommands of an untagged block = %q, want %q", cmds, want)
	}
}

// TestShellBlocks: every command the shell blocks show names something
// that exists: skyloop subcommands and their flags (asked with --help),
// make targets, and bin/GAME binaries (from games/GAME).
func TestShellBlocks(t *testing.T) {
	root := repoRoot(t)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var calls []toolCall
	for _, b := range allBlocks(t) {
		switch b.Lang {
		case "sh", "bash", "shell", "console", "":
		default:
			continue
		}
		cmds, lines := shellCommands(b)
		for i, c := range cmds {
			where := fmt.Sprintf("%s:%d", b.File, lines[i])
			words := strings.Fields(c)
			switch {
			case isSkyloop(words[0]):
				calls = append(calls, parseToolCall(where, c)...)
			case words[0] == "make":
				for _, target := range words[1:] {
					if strings.HasPrefix(target, "-") || strings.Contains(target, "=") {
						continue
					}
					if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `\s*:`).Match(makefile) {
						t.Errorf("%s: `%s`: the Makefile has no target %q", where, c, target)
					}
				}
			case strings.HasPrefix(words[0], "bin/") && !strings.HasPrefix(words[0], "bin/skyloop"):
				if fi, err := os.Stat(filepath.Join(root, "games", strings.TrimPrefix(words[0], "bin/"))); err != nil || !fi.IsDir() {
					t.Errorf("%s: `%s`: `make build` makes no %s (no directory games/%s)", where, c, words[0], strings.TrimPrefix(words[0], "bin/"))
				}
			}
		}
	}
	if len(calls) < 5 {
		t.Fatalf("only %d skyloop commands found in the shell blocks", len(calls))
	}
	t.Logf("%d skyloop commands shown in shell blocks and synopses", len(calls))
	tool := skyloopTool(t)
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))

	// The check itself must tell a missing command or flag from a real one.
	if r := run(budget(t, 30*time.Second), home, env, tool, "plugin", "nosuch", "--help"); r.err == nil && usageNames(r.stdout+r.stderr, "skyloop plugin nosuch") {
		t.Fatalf("`skyloop plugin nosuch --help` looks like a command's help: the check below would pass anything\n%s", r.output())
	}
	if r := run(budget(t, 30*time.Second), home, env, tool, "verify", "--help"); r.err != nil || !usageNames(r.stdout, "skyloop verify") || hasFlag(r.stdout, "--nosuch") || !hasFlag(r.stdout, "--config") {
		t.Fatalf("`skyloop verify --help` is not read as expected (usage names it, has --config, not --nosuch): %v\n%s", r.err, r.output())
	}

	helps := map[string]result{}
	for _, c := range calls {
		name := strings.Join(append([]string{"skyloop"}, c.path...), " ")
		r, ok := helps[name]
		if !ok {
			r = run(budget(t, 30*time.Second), home, env, tool, append(slices.Clone(c.path), "--help")...)
			helps[name] = r
		}
		if r.err != nil {
			t.Errorf("%s: `%s`: `%s --help` failed: %v\n%s", c.where, c.line, name, r.err, r.output())
			continue
		}
		if !usageNames(r.stdout+r.stderr, name) {
			t.Errorf("%s: `%s`: there is no command `%s` (its --help shows the usage of another):\n%s", c.where, c.line, name, r.output())
			continue
		}
		for _, f := range c.flags {
			if !hasFlag(r.stdout+r.stderr, f) {
				t.Errorf("%s: `%s`: `%s` has no flag %s (not in its --help)", c.where, c.line, name, f)
			}
		}
	}
}

// hasFlag says whether cobra's help lists the flag (e.g. "--json").
func hasFlag(help, flag string) bool {
	return regexp.MustCompile(`\s` + regexp.QuoteMeta(flag) + `[\s=]`).MatchString(help)
}

// usageNames says whether the Usage: section of cobra's help names the
// command exactly (an unknown subcommand shows its parent's help).
func usageNames(help, name string) bool {
	_, after, ok := strings.Cut(help, "Usage:\n")
	if !ok {
		return false
	}
	for _, line := range strings.Split(after, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if line == name || strings.HasPrefix(line, name+" ") {
			return true
		}
	}
	return false
}

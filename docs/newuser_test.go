package docs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
)

// newUserEnv is this process's environment as a new user's would be: HOME
// and the XDG directories in base (nothing there yet), no SKYLOOP_ or Go
// path variables, and a PATH without any directory that holds a disk
// plugin (skyloop-plugin-disk, or disk as `go install` names it) or the
// checkout's bin/.
func newUserEnv(t *testing.T, base string) (env []string, data string) {
	t.Helper()
	root := repoRoot(t)
	dirs := map[string]string{
		"HOME":            filepath.Join(base, "home"),
		"XDG_DATA_HOME":   filepath.Join(base, "data"),
		"XDG_CONFIG_HOME": filepath.Join(base, "config"),
		"XDG_CACHE_HOME":  filepath.Join(base, "cache"),
		"XDG_STATE_HOME":  filepath.Join(base, "state"),
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH", k == "GOPATH", k == "GOBIN", strings.HasPrefix(k, "SKYLOOP_"), dirs[k] != "",
			k == "XDG_DATA_DIRS", k == "XDG_CONFIG_DIRS":
			continue
		}
		env = append(env, kv)
	}
	var path []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d == "" || filepath.Clean(d) == filepath.Join(root, "bin") {
			continue
		}
		if hasFile(filepath.Join(d, "skyloop-plugin-disk")) || hasFile(filepath.Join(d, "disk")) {
			t.Logf("left %s out of PATH: it holds a disk plugin", d)
			continue
		}
		path = append(path, d)
	}
	env = append(env, "PATH="+strings.Join(path, string(filepath.ListSeparator)))
	for k, d := range dirs {
		env = append(env, k+"="+d)
	}
	return env, filepath.Join(dirs["XDG_DATA_HOME"], "skyloop")
}

func hasFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// TestNewUser follows the README as a player new to skyloop would, on a
// machine where nothing was installed: the sample game in a module of its
// own, built with `go build`, run with no config file; it must record to
// the default disk sink, and the tool must find and verify the session with
// no --config. The game and the tool each sit alone in their directories,
// and no disk plugin is on PATH, so this passes only when a game (and the
// tool) reach the default disk sink with no skyloop-plugin-disk installed.
func TestNewUser(t *testing.T) {
	b, ok := sampleGame(t)
	if !ok {
		t.Fatalf("README.md: no ```go program under %q", sampleSection)
	}
	dir := newModule(t, "mygame", map[string]string{"main.go": b.Body})
	bin := filepath.Join(t.TempDir(), "mygame")
	mustRun(t, budget(t, 15*time.Minute), dir, goEnv(t), "go", "build", "-o", bin, ".")
	tool := skyloopTool(t)
	enginetest.RequireDisplay(t)

	env, dataDir := newUserEnv(t, t.TempDir())
	// -fps 60 stands in for the vsync a player has: with the default
	// capture.drop = "newest", frames rendered faster than a loaded machine
	// encodes them could be dropped, and verify would rightly fail.
	r := run(budget(t, 3*time.Minute), filepath.Dir(bin), env, bin, append(slices.Clone(gameArgs), "-fps", "60")...)
	t.Logf("%s (no -config; HOME, XDG_* in a temporary directory; no disk plugin anywhere)\n%s", r.cmd, r.output())
	if r.err != nil {
		t.Fatalf("the sample game, run as a new user, did not exit 0: %v", r.err)
	}
	sessions, _ := filepath.Glob(filepath.Join(dataDir, "*", "*", "sessions", "*", "*.seg"))
	if len(sessions) == 0 {
		var spooled []string
		filepath.WalkDir(filepath.Join(dataDir, "spool"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				spooled = append(spooled, p)
			}
			return nil
		})
		t.Fatalf("the game recorded nothing to the default disk sink %s (no segment GAME/PLAYER/sessions/SESSION/*.seg there; %d files in its spool %s/spool).\n"+
			"Missing: a game that finds no skyloop-plugin-disk binary (none beside it, none on PATH, no config) must still record to the default disk sink, "+
			"for example by starting itself in the disk plugin's mode (issue 12, \"go run records\")", dataDir, len(spooled), dataDir)
	}
	rec := findRecording(t, dataDir)
	t.Logf("recorded %s: %d segments, end record %+v", rec.dir, len(rec.segments), rec.manifest)
	if !strings.Contains(r.stdout+r.stderr, dataDir) {
		t.Errorf("the game's log does not say where it records (the default disk sink, %s); issue 12: \"the game logs at start where it records (sink name and location)\"", dataDir)
	}

	r = run(budget(t, 2*time.Minute), t.TempDir(), env, tool, "sessions", "--json")
	if r.err != nil {
		t.Fatalf("`skyloop sessions --json` as the same new user (no --config, no config file, no skyloop-plugin-disk beside it or on PATH) failed: %v\n"+
			"Missing: the tool must read the default disk sink %s without a config file and without an installed disk plugin\n%s", r.err, dataDir, r.output())
	}
	var rows []sessionRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("skyloop sessions --json: %v\n%s", err, r.output())
	}
	i := slices.IndexFunc(rows, func(row sessionRow) bool { return row.Session == rec.ref() })
	if len(rows) != 1 || i != 0 {
		t.Fatalf("skyloop sessions --json lists %d sessions %+v; want exactly the one recorded, %s", len(rows), rows, rec.ref())
	}
	if row := rows[0]; !row.Ended || uint64(row.Frames) != rec.manifest.Frames || row.Frames == 0 {
		t.Errorf("skyloop sessions --json: %+v; want it ended, with the %d frames of its end record", row, rec.manifest.Frames)
	}

	r = run(budget(t, 2*time.Minute), t.TempDir(), env, tool, "verify", rows[0].Session)
	t.Logf("%s\n%s", r.cmd, r.output())
	if r.err != nil {
		t.Fatalf("skyloop verify %s as the new user: %v (want exit 0: every frame present and decoding)", rows[0].Session, r.err)
	}
}

// sessionRow is what a test reads of a line of `skyloop sessions --json`.
type sessionRow struct {
	Session string `json:"session"` // GAME/PLAYER/SESSION
	Sink    string `json:"sink"`
	Game    string `json:"game"`
	Frames  int    `json:"frames"`
	Ended   bool   `json:"ended"`
}

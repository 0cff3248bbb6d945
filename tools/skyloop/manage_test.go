package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
)

// The delete and prune tests plant copies of the recorded session (its
// real segments, and an end record rewritten for the copy) under session
// ids made with segment.NewSessionID from start times the test chooses, and
// with end times it chooses, in a real disk sink and a real S3 bucket,
// through the sinks' own plugins. They then run the tool and look at what
// is left in the sink with a plugin client of their own, on the disk sink's
// files and with a plain S3 client.

// planted is one planted session.
type planted struct {
	game  string
	start time.Time
	end   time.Time // zero: no end record (still recording, or crashed)
	mtime time.Time // disk sink only: the files' modification time (zero: now)
	id    string    // set by plant
}

func (p *planted) ref() string    { return p.game + "/tester/" + p.id }
func (p *planted) prefix() string { return segment.SessionPrefix(p.game, "tester", p.id) }

// saveKey is an object that is not a recording: nothing may delete it.
const saveKey = "breakout/tester/saves/slot1"

// recordedObjects reads the recorded session's segments (in order) and its
// end record from the disk sink's files.
func recordedObjects(t *testing.T, rec recording) ([][]byte, segment.Manifest) {
	t.Helper()
	k := strings.Split(rec.Ref, "/")
	dir := filepath.Join(rec.Root, k[0], k[1], "sessions", k[2])
	files, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(files) != 3 {
		t.Fatalf("want 3 recorded segments, found %v (%v)", files, err)
	}
	slices.Sort(files)
	var segs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, b)
	}
	data, err := os.ReadFile(filepath.Join(dir, segment.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := segment.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return segs, m
}

// plant stores each planted session in st (and the save object), and sets
// the ids.
func plant(t *testing.T, st sdk.Backend, rec recording, ps []*planted) {
	t.Helper()
	segs, m := recordedObjects(t, rec)
	used := map[string]bool{}
	for _, p := range ps {
		p.id = segment.NewSessionID(p.start)
		for used[p.id] { // same start in the same test: another suffix
			p.start = p.start.Add(time.Microsecond)
			p.id = segment.NewSessionID(p.start)
		}
		used[p.id] = true
		for i, b := range segs {
			put(t, st, segment.Key(p.prefix(), uint64(i)), b)
		}
		if !p.end.IsZero() {
			pm := m
			pm.Game, pm.Player, pm.Session, pm.Start, pm.End = p.game, "tester", p.id, p.start.UTC(), p.end.UTC()
			b, err := segment.MarshalManifest(pm)
			if err != nil {
				t.Fatal(err)
			}
			put(t, st, segment.ManifestKey(p.prefix()), b)
		}
	}
	put(t, st, saveKey, []byte("a save"))
}

func put(t *testing.T, st sdk.Backend, key string, b []byte) {
	t.Helper()
	if _, err := st.Put(context.Background(), key, bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// keysOf lists st under prefix.
func keysOf(t *testing.T, st sdk.Backend, prefix string) []string {
	t.Helper()
	var keys []string
	if err := st.List(context.Background(), prefix, func(o sdk.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// sessionBytes is what a planted session takes in st.
func sessionBytes(t *testing.T, st sdk.Backend, p *planted) int64 {
	t.Helper()
	var n int64
	if err := st.List(context.Background(), p.prefix(), func(o sdk.ObjectInfo) error { n += o.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkLeft fails t unless exactly the sessions of gone have no object
// left in st and every other planted session is there whole (3 segments,
// and its end record if it had one), and the save is untouched.
func checkLeft(t *testing.T, st sdk.Backend, all []*planted, gone ...*planted) {
	t.Helper()
	for _, p := range all {
		keys := keysOf(t, st, p.prefix())
		if slices.Contains(gone, p) {
			if len(keys) != 0 {
				t.Errorf("%s should be deleted, but %v are left", p.ref(), keys)
			}
			continue
		}
		want := 3
		if !p.end.IsZero() {
			want = 4
		}
		if len(keys) != want {
			t.Errorf("%s should be untouched: %d objects left of %d: %v", p.ref(), len(keys), want, keys)
		}
	}
	if keys := keysOf(t, st, saveKey); len(keys) != 1 {
		t.Errorf("the save %s is gone", saveKey)
	}
}

// diskSink is an empty disk sink with its config and a plugin client on it.
func diskSink(t *testing.T, rec recording) (cfg, root string, c *sdk.Client) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "sink")
	cfg = writeConfig(filepath.Join(t.TempDir(), "sink.toml"), root, rec.PluginDir)
	c, err := sdk.Launch(context.Background(), sdk.LaunchOptions{Path: filepath.Join(rec.PluginDir, "skyloop-plugin-disk"), Settings: map[string]string{"root": root}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return cfg, root, c
}

// ageFiles sets the modification time of a planted session's files on the
// disk sink (the disk plugin then reports it: the data file wins over its
// stale sidecar).
func ageFiles(t *testing.T, root string, p *planted) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(p.prefix()), "*"))
	if len(files) == 0 {
		t.Fatalf("no files for %s", p.ref())
	}
	for _, f := range files {
		if err := os.Chtimes(f, p.mtime, p.mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// noTerminal makes the in-process tool's stdin something other than a
// terminal, as under a script or CI, for the test.
func noTerminal(t *testing.T) {
	old := stdin
	stdin = strings.NewReader("y\n") // a "y" that must not be taken as an answer
	t.Cleanup(func() { stdin = old })
}

func TestDeleteFromDisk(t *testing.T) {
	rec := recordedSession(t)
	noTerminal(t)
	cfg, root, c := diskSink(t, rec)
	now := time.Now()
	a := &planted{game: "breakout", start: now.Add(-72 * time.Hour), end: now.Add(-71 * time.Hour)}
	b := &planted{game: "breakout", start: now.Add(-48 * time.Hour).Truncate(time.Second).Add(100 * time.Millisecond), end: now.Add(-47 * time.Hour)}
	// c2 starts 1 ms after b: the id prefix up to the seconds names both.
	c2 := &planted{game: "breakout", start: b.start.Add(time.Millisecond), end: now.Add(-47 * time.Hour)}
	d := &planted{game: "other", start: now.Add(-24 * time.Hour)} // no end record
	all := []*planted{a, b, c2, d}
	plant(t, c, rec, all)

	// No terminal and no --yes: refused before anything is deleted.
	_, errOut, code := runTool(t, "--config", cfg, "delete", a.id)
	if code != 2 || !strings.Contains(errOut, "--yes") || !strings.Contains(errOut, "not a terminal") {
		t.Fatalf("delete without --yes and without a terminal: exit %d, %q", code, errOut)
	}
	checkLeft(t, c, all)

	// --dry-run lists, deletes nothing.
	out, errOut, code := runTool(t, "--config", cfg, "delete", "--dry-run", a.id[:15])
	if code != 0 || !strings.Contains(out, "would delete") || !strings.Contains(out, a.ref()) || strings.Contains(out, b.ref()) {
		t.Fatalf("delete --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	checkLeft(t, c, all)

	// A unique prefix of the id: that session, all of it, and nothing else.
	out, errOut, code = runTool(t, "--config", cfg, "delete", "--yes", a.id[:15])
	if code != 0 || !strings.Contains(out, a.ref()) || !strings.Contains(out, "deleted 1 session from sink local") {
		t.Fatalf("delete --yes: exit %d\n%s%s", code, out, errOut)
	}
	checkLeft(t, c, all, a)
	if _, err := os.Stat(filepath.Join(root, "breakout", "tester", "sessions", a.id)); !os.IsNotExist(err) {
		t.Errorf("the session's directory is still on disk: %v", err)
	}

	// Ambiguous: an error that lists the candidates, and nothing deleted —
	// not even the session an earlier argument names uniquely.
	prefix := b.id[:len("20060102T150405")]
	if !strings.HasPrefix(c2.id, prefix) {
		t.Fatalf("test setup: %s and %s do not share %s", b.id, c2.id, prefix)
	}
	_, errOut, code = runTool(t, "--config", cfg, "delete", "--yes", d.id, prefix)
	if code != 1 || !strings.Contains(errOut, b.ref()) || !strings.Contains(errOut, c2.ref()) || !strings.Contains(errOut, "matches 2 sessions") {
		t.Fatalf("ambiguous prefix: exit %d, %q", code, errOut)
	}
	checkLeft(t, c, all, a)

	_, errOut, code = runTool(t, "--config", cfg, "delete", "--yes", "breakout/tester/19990101")
	if code != 1 || !strings.Contains(errOut, "matches no recorded session") {
		t.Fatalf("unknown session: exit %d, %q", code, errOut)
	}
	if _, errOut, code = runTool(t, "--config", cfg, "delete", "--yes"); code != 2 || !strings.Contains(errOut, "SESSION") {
		t.Fatalf("no argument: exit %d, %q", code, errOut)
	}
	if _, errOut, code = runTool(t, "--config", cfg, "delete", "--yes", "--sink", "nope", d.id); code != 2 || !strings.Contains(errOut, "no such sink") {
		t.Fatalf("--sink nope: exit %d, %q", code, errOut)
	}

	// Several at once, by full name and by id; a session without an end
	// record goes too (delete does what it is told).
	out, errOut, code = runTool(t, "--config", cfg, "delete", "-y", b.ref(), d.id)
	if code != 0 || !strings.Contains(out, "deleted 2 sessions from sink local") {
		t.Fatalf("delete two: exit %d\n%s%s", code, out, errOut)
	}
	checkLeft(t, c, all, a, b, d)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// onTerminal runs the skyloop binary with args on a pseudo-terminal
// (script(1), from util-linux), typing answer, and returns what the
// terminal showed and the exit status.
func onTerminal(t *testing.T, answer string, args ...string) (string, int) {
	t.Helper()
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv(enginetest.RequireDisplayEnv) == "1" {
			t.Fatal("script (util-linux) is not on PATH: needed to give the tool a terminal")
		}
		t.Skip("script (util-linux) is not on PATH: needed to give the tool a terminal")
	}
	bin := buildTool(t)
	line := shellQuote(bin)
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	cmd := exec.Command(scriptBin, "-qec", line, "/dev/null")
	cmd.Stdin = strings.NewReader(answer)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// On a terminal delete asks, and only "y" deletes; the real binary, a real
// pseudo-terminal. Without one (stdin from /dev/null) the binary refuses.
func TestDeleteAsksOnATerminal(t *testing.T) {
	rec := recordedSession(t)
	cfg, _, c := diskSink(t, rec)
	now := time.Now()
	a := &planted{game: "breakout", start: now.Add(-time.Hour), end: now.Add(-time.Hour)}
	all := []*planted{a}
	plant(t, c, rec, all)
	size := sessionBytes(t, c, a)
	question := fmt.Sprintf("delete 1 session (%s) from sink local? [y/N]", sizeOf(size))

	for _, answer := range []string{"n\n", "\n", "yes please\n"} {
		shown, code := onTerminal(t, answer, "--config", cfg, "delete", a.id)
		if code != 1 || !strings.Contains(shown, question) || !strings.Contains(shown, "nothing deleted") {
			t.Fatalf("answer %q: exit %d, terminal showed:\n%s", answer, code, shown)
		}
		checkLeft(t, c, all)
	}

	cmd := exec.Command(buildTool(t), "--config", cfg, "delete", a.id) // stdin: /dev/null
	outb, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(outb), "--yes") {
		t.Fatalf("stdin not a terminal: %v\n%s", err, outb)
	}
	checkLeft(t, c, all)

	shown, code := onTerminal(t, "y\n", "--config", cfg, "delete", a.id)
	if code != 0 || !strings.Contains(shown, question) || !strings.Contains(shown, "deleted 1 session from sink local") {
		t.Fatalf("answer y: exit %d, terminal showed:\n%s", code, shown)
	}
	checkLeft(t, c, all, a)
}

// pruneSet is sessions whose ages each prune rule decides on, planted in
// a sink (files' times set on a disk sink when root is given).
type pruneSet struct {
	s1, s6, s2, s3, s4, s5, s7 *planted // breakout, oldest start first
	o1, o2                     *planted // game other
	long                       *planted // game long: started 40 days ago, ended yesterday
	all                        []*planted
}

func newPruneSet(now time.Time) *pruneSet {
	day := 24 * time.Hour
	p := &pruneSet{
		s1: &planted{game: "breakout", start: now.Add(-40 * day), end: now.Add(-40*day + 5*time.Minute)},
		// s7: started 30 days ago by its id, no end record, but written to
		// just now: a long recording, or one the spool delivers late. Still
		// recording.
		s7: &planted{game: "breakout", start: now.Add(-30 * day)},
		// s6: no end record, last written 20 days ago: the game crashed.
		s6:   &planted{game: "breakout", start: now.Add(-20 * day), mtime: now.Add(-20 * day)},
		s2:   &planted{game: "breakout", start: now.Add(-10 * day), end: now.Add(-10*day + time.Hour)},
		s3:   &planted{game: "breakout", start: now.Add(-3 * day), end: now.Add(-3*day + time.Hour)},
		s4:   &planted{game: "breakout", start: now.Add(-2 * time.Hour), end: now.Add(-time.Hour)},
		s5:   &planted{game: "breakout", start: now.Add(-30 * time.Second)}, // recording now
		o1:   &planted{game: "other", start: now.Add(-50 * day), end: now.Add(-50 * day)},
		o2:   &planted{game: "other", start: now.Add(-day), end: now.Add(-day)},
		long: &planted{game: "long", start: now.Add(-40 * day), end: now.Add(-day)},
	}
	p.all = []*planted{p.s1, p.s7, p.s6, p.s2, p.s3, p.s4, p.s5, p.o1, p.o2, p.long}
	return p
}

func (p *pruneSet) plant(t *testing.T, c sdk.Backend, rec recording, diskRoot string) {
	t.Helper()
	plant(t, c, rec, p.all)
	if diskRoot != "" {
		for _, s := range p.all {
			if !s.mtime.IsZero() {
				ageFiles(t, diskRoot, s)
			}
		}
	}
}

// mentions fails t unless out names each session of want on a line that
// also says word, and names none of not on such a line.
func mentions(t *testing.T, out, word string, want []*planted, not ...*planted) {
	t.Helper()
	lines := strings.Split(out, "\n")
	has := func(p *planted) bool {
		for _, l := range lines {
			if strings.Contains(l, p.ref()) && strings.Contains(l, word) {
				return true
			}
		}
		return false
	}
	for _, p := range want {
		if !has(p) {
			t.Errorf("output does not name %s as %q:\n%s", p.ref(), word, out)
		}
	}
	for _, p := range not {
		if has(p) {
			t.Errorf("output names %s as %q:\n%s", p.ref(), word, out)
		}
	}
}

func TestPruneDisk(t *testing.T) {
	rec := recordedSession(t)
	noTerminal(t)
	now := time.Now()
	fresh := func(t *testing.T) (string, *sdk.Client, *pruneSet) {
		cfg, root, c := diskSink(t, rec)
		p := newPruneSet(now)
		p.plant(t, c, rec, root)
		return cfg, c, p
	}

	t.Run("Usage", func(t *testing.T) {
		cfg, c, p := fresh(t)
		for _, args := range [][]string{
			{"prune", "--yes"},
			{"prune", "--yes", "--older-than", "soon"},
			{"prune", "--yes", "--older-than", "0d"},
			{"prune", "--yes", "--keep", "-1"},
			{"prune", "--yes", "--max-size", "lots"},
			{"prune", "--yes", "--keep", "1", "extra-arg"},
		} {
			if _, errOut, code := runTool(t, append([]string{"--config", cfg}, args...)...); code != 2 {
				t.Errorf("%v: exit %d, want 2: %s", args, code, errOut)
			}
		}
		_, errOut, _ := runTool(t, "--config", cfg, "prune", "--yes")
		if !strings.Contains(errOut, "--older-than") || !strings.Contains(errOut, "--keep") || !strings.Contains(errOut, "--max-size") {
			t.Errorf("no criterion: %q does not name the three", errOut)
		}
		_, errOut, code := runTool(t, "--config", cfg, "prune", "--keep", "0")
		if code != 2 || !strings.Contains(errOut, "--yes") {
			t.Errorf("without a terminal and --yes: exit %d, %q", code, errOut)
		}
		checkLeft(t, c, p.all)
	})

	// By age: the end record's time, else (no end record) when the files
	// were last written. Not the start: "long" started 40 days ago but
	// ended yesterday. Weeks, days, hours and minutes all parse.
	t.Run("OlderThan", func(t *testing.T) {
		for _, age := range []string{"7d", "1w", "168h", "10080m"} {
			t.Run(age, func(t *testing.T) {
				cfg, c, p := fresh(t)
				want := []*planted{p.s1, p.s6, p.s2, p.o1}
				out, errOut, code := runTool(t, "--config", cfg, "prune", "--older-than", age, "--dry-run")
				if code != 0 {
					t.Fatalf("--dry-run: exit %d\n%s%s", code, out, errOut)
				}
				mentions(t, out, "would delete", want, p.s7, p.s3, p.s4, p.s5, p.o2, p.long)
				checkLeft(t, c, p.all)

				out, errOut, code = runTool(t, "--config", cfg, "prune", "--older-than", age, "--yes")
				if code != 0 || !strings.Contains(out, "deleted 4 sessions") {
					t.Fatalf("exit %d\n%s%s", code, out, errOut)
				}
				mentions(t, out, "delete", want)
				checkLeft(t, c, p.all, want...)
			})
		}
		// 90 minutes: s4 ended an hour ago and stays.
		cfg, c, p := fresh(t)
		if _, errOut, code := runTool(t, "--config", cfg, "prune", "--older-than", "90m", "--yes"); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		checkLeft(t, c, p.all, p.s1, p.s6, p.s2, p.s3, p.o1, p.o2, p.long)
	})

	t.Run("OlderThanOneGame", func(t *testing.T) {
		cfg, c, p := fresh(t)
		if out, errOut, code := runTool(t, "--config", cfg, "prune", "--older-than", "36h", "--game", "other", "--yes"); code != 0 || !strings.Contains(out, "deleted 1 session") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		checkLeft(t, c, p.all, p.o1)
	})

	// --keep N keeps the N newest by start of each game and player; a
	// session still being recorded is never deleted, and is named.
	t.Run("Keep", func(t *testing.T) {
		cfg, c, p := fresh(t)
		out, errOut, code := runTool(t, "--config", cfg, "prune", "--keep", "2", "--yes")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		// breakout by start: s1 s7 s6 s2 s3 [s4 s5]; s7 is still recording.
		checkLeft(t, c, p.all, p.s1, p.s6, p.s2, p.s3)
		mentions(t, out, "skipped", []*planted{p.s7}, p.s5, p.s4)
		if !strings.Contains(out, "may still be recording") {
			t.Errorf("the skip does not say why:\n%s", out)
		}
		if !strings.Contains(out, "kept 6 sessions") {
			t.Errorf("does not say what was kept:\n%s", out)
		}

		cfg, c, p = fresh(t)
		out, errOut, code = runTool(t, "--config", cfg, "prune", "--keep", "0", "--yes")
		if code != 0 {
			t.Fatalf("--keep 0: exit %d\n%s%s", code, out, errOut)
		}
		gone := []*planted{p.s1, p.s6, p.s2, p.s3, p.s4, p.o1, p.o2, p.long}
		checkLeft(t, c, p.all, gone...)
		mentions(t, out, "skipped", []*planted{p.s5, p.s7})
	})

	// --max-size: the oldest go first until what is left fits, exactly at
	// the limit included; sessions still recording count but stay.
	t.Run("MaxSize", func(t *testing.T) {
		cfg, c, p := fresh(t)
		var keep int64
		for _, s := range []*planted{p.s7, p.s3, p.s4, p.s5} {
			keep += sessionBytes(t, c, s)
		}
		out, errOut, code := runTool(t, "--config", cfg, "prune", "--game", "breakout", "--max-size", fmt.Sprint(keep), "--yes")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		// by start: s1 (s7 recording: skipped) s6 s2 go; s3 s4 s5 fit.
		checkLeft(t, c, p.all, p.s1, p.s6, p.s2)
		mentions(t, out, "skipped", []*planted{p.s7})

		// One byte less: s3 goes too.
		cfg, c, p = fresh(t)
		if _, errOut, code := runTool(t, "--config", cfg, "prune", "--game", "breakout", "--max-size", fmt.Sprint(keep-1), "--yes"); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		checkLeft(t, c, p.all, p.s1, p.s6, p.s2, p.s3)

		// Units as go-humanize reads them: 2GiB is more than all of it.
		out, errOut, code = runTool(t, "--config", cfg, "prune", "--max-size", "2GiB", "--yes")
		if code != 0 || !strings.Contains(out, "nothing to delete") {
			t.Fatalf("--max-size 2GiB: exit %d\n%s%s", code, out, errOut)
		}
		checkLeft(t, c, p.all, p.s1, p.s6, p.s2, p.s3)

		// 0: all that can go, goes; the recording ones stay, and prune says
		// the sink is still over.
		out, errOut, code = runTool(t, "--config", cfg, "prune", "--max-size", "0", "--yes")
		if code != 0 || !strings.Contains(out, "over --max-size") {
			t.Fatalf("--max-size 0: exit %d\n%s%s", code, out, errOut)
		}
		checkLeft(t, c, p.all, p.s1, p.s6, p.s2, p.s3, p.s4, p.o1, p.o2, p.long)
	})

	// Rules combine: a session any of them picks goes.
	t.Run("Combined", func(t *testing.T) {
		cfg, c, p := fresh(t)
		// --older-than 30d picks s1 and o1; --keep 4 picks s1, s7 (still
		// recording: skipped) and s6.
		out, errOut, code := runTool(t, "--config", cfg, "prune", "--older-than", "30d", "--keep", "4", "--yes")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		checkLeft(t, c, p.all, p.s1, p.s6, p.o1)
	})
}

// s3Sinks is a config with the disk sink "local" at root and the S3 sink
// "cloud" in a fresh versitygw bucket, and plugin clients on both.
func s3Sinks(t *testing.T, rec recording) (cfg string, local, cloud *sdk.Client, srv *enginetest.S3Server) {
	t.Helper()
	srv = enginetest.StartS3Server(t)
	s3Dir := enginetest.BuildPlugin(t, "s3")
	settings := map[string]string{
		"bucket": srv.Bucket, "endpoint": srv.Endpoint, "region": "us-east-1",
		"access_key_id": srv.Access, "secret_access_key": srv.Secret, "prefix": "games/",
	}
	cloud, err := sdk.Launch(context.Background(), sdk.LaunchOptions{Path: filepath.Join(s3Dir, "skyloop-plugin-s3"), Settings: settings, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	_, root, local := diskSink(t, rec)
	cfg = filepath.Join(t.TempDir(), "two-sinks.toml")
	doc := fmt.Sprintf(`player = "tester"
plugin_dir = %q
[[sink]]
name = "local"
plugin = "disk"
[sink.settings]
root = %q
[[sink]]
name = "cloud"
plugin = "s3"
[sink.settings]
`, s3Dir, root)
	for _, k := range []string{"bucket", "endpoint", "region", "access_key_id", "secret_access_key", "prefix"} {
		doc += fmt.Sprintf("%s = %q\n", k, settings[k])
	}
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", rec.PluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return cfg, local, cloud, srv
}

// bucketKeys lists the bucket with a plain S3 client, not the plugin.
func bucketKeys(t *testing.T, srv *enginetest.S3Server) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	p := s3.NewListObjectsV2Paginator(srv.Client(ctx), &s3.ListObjectsV2Input{Bucket: aws.String(srv.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func inBucket(keys []string, p *planted) int {
	n := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "games/"+p.prefix()) {
			n++
		}
	}
	return n
}

func TestDeleteAndPruneS3(t *testing.T) {
	rec := recordedSession(t)
	noTerminal(t)
	cfg, local, cloud, srv := s3Sinks(t, rec)
	now := time.Now()
	day := 24 * time.Hour
	x := &planted{game: "breakout", start: now.Add(-5 * day), end: now.Add(-5 * day)}
	y := &planted{game: "breakout", start: now.Add(-4 * day), end: now.Add(-4 * day)}
	old := &planted{game: "breakout", start: now.Add(-40 * day), end: now.Add(-40 * day)}
	recent := &planted{game: "breakout", start: now.Add(-3 * day), end: now.Add(-3 * day)}
	live := &planted{game: "breakout", start: now.Add(-10 * time.Second)} // still recording
	all := []*planted{x, y, old, recent, live}
	plant(t, cloud, rec, all)
	// x and y are in both sinks (the same ids).
	for _, p := range []*planted{x, y} {
		for _, k := range keysOf(t, cloud, p.prefix()) {
			var buf bytes.Buffer
			if _, err := cloud.Get(context.Background(), k, &buf, sdk.GetOptions{}); err != nil {
				t.Fatal(err)
			}
			put(t, local, k, buf.Bytes())
		}
	}
	if n := inBucket(bucketKeys(t, srv), x); n != 4 {
		t.Fatalf("test setup: %d objects of x in the bucket", n)
	}

	t.Run("Delete", func(t *testing.T) {
		if _, errOut, code := runTool(t, "--config", cfg, "delete", x.id); code != 2 || !strings.Contains(errOut, "--yes") {
			t.Fatalf("no --yes: exit %d, %q", code, errOut)
		}
		out, errOut, code := runTool(t, "--config", cfg, "delete", "--dry-run", x.id)
		if code != 0 || !strings.Contains(out, "sink local: would delete") || !strings.Contains(out, "sink cloud: would delete") {
			t.Fatalf("--dry-run: exit %d\n%s%s", code, out, errOut)
		}
		if n := inBucket(bucketKeys(t, srv), x); n != 4 || len(keysOf(t, local, x.prefix())) != 4 {
			t.Fatalf("--dry-run deleted something: %d objects left in the bucket", n)
		}
		// Without --sink: from every sink that holds it.
		out, errOut, code = runTool(t, "--config", cfg, "delete", "--yes", x.id)
		if code != 0 || !strings.Contains(out, "deleted 1 session from sink local") || !strings.Contains(out, "deleted 1 session from sink cloud") {
			t.Fatalf("delete: exit %d\n%s%s", code, out, errOut)
		}
		keys := bucketKeys(t, srv)
		if n := inBucket(keys, x); n != 0 {
			t.Fatalf("%d objects of %s are still in the bucket: %v", n, x.ref(), keys)
		}
		if k := keysOf(t, local, x.prefix()); len(k) != 0 {
			t.Fatalf("still on disk: %v", k)
		}
		// --sink cloud: only there.
		if out, errOut, code := runTool(t, "--config", cfg, "delete", "--yes", "--sink", "cloud", y.ref()); code != 0 || strings.Contains(out, "sink local") {
			t.Fatalf("delete --sink cloud: exit %d\n%s%s", code, out, errOut)
		}
		if n := inBucket(bucketKeys(t, srv), y); n != 0 {
			t.Fatalf("%d objects of y left in the bucket", n)
		}
		if k := keysOf(t, local, y.prefix()); len(k) != 4 {
			t.Fatalf("--sink cloud deleted from local: %v left", k)
		}
		checkLeft(t, cloud, all, x, y)
		if !slices.Contains(bucketKeys(t, srv), "games/"+saveKey) {
			t.Fatal("the save is gone from the bucket")
		}
	})

	t.Run("Prune", func(t *testing.T) {
		out, errOut, code := runTool(t, "--config", cfg, "prune", "--sink", "cloud", "--older-than", "30d", "--dry-run")
		if code != 0 {
			t.Fatalf("--dry-run: exit %d\n%s%s", code, out, errOut)
		}
		mentions(t, out, "would delete", []*planted{old}, recent, live)
		if n := inBucket(bucketKeys(t, srv), old); n != 4 {
			t.Fatalf("--dry-run deleted %d objects", 4-n)
		}
		if _, errOut, code := runTool(t, "--config", cfg, "prune", "--sink", "cloud", "--older-than", "30d"); code != 2 || !strings.Contains(errOut, "--yes") {
			t.Fatalf("no --yes: exit %d, %q", code, errOut)
		}
		out, errOut, code = runTool(t, "--config", cfg, "prune", "--sink", "cloud", "--older-than", "30d", "--yes")
		if code != 0 || !strings.Contains(out, "deleted 1 session") {
			t.Fatalf("--older-than 30d: exit %d\n%s%s", code, out, errOut)
		}
		keys := bucketKeys(t, srv)
		if inBucket(keys, old) != 0 || inBucket(keys, recent) != 4 || inBucket(keys, live) != 3 {
			t.Fatalf("after --older-than 30d the bucket holds %v", keys)
		}
		// --keep 0: all but the one still recording, which is named.
		out, errOut, code = runTool(t, "--config", cfg, "prune", "--sink", "cloud", "--keep", "0", "--yes")
		if code != 0 {
			t.Fatalf("--keep 0: exit %d\n%s%s", code, out, errOut)
		}
		mentions(t, out, "skipped", []*planted{live})
		keys = bucketKeys(t, srv)
		if inBucket(keys, recent) != 0 || inBucket(keys, live) != 3 || !slices.Contains(keys, "games/"+saveKey) {
			t.Fatalf("after --keep 0 the bucket holds %v", keys)
		}
		// The local sink was not pruned.
		if k := keysOf(t, local, y.prefix()); len(k) != 4 {
			t.Fatalf("prune --sink cloud touched local: %v", k)
		}
	})
}

func TestParseAgeAndSize(t *testing.T) {
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"90m": 90 * time.Minute, "36h": 36 * time.Hour, "30d": 30 * day, "2w": 14 * day,
		"1w3d": 10 * day, "1d12h": 36 * time.Hour, "1.5d": 36 * time.Hour, "45s": 45 * time.Second,
	} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "30", "d", "3x", "-2d", "0", "0d", "1 week"} {
		if got, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) = %v, want an error", in, got)
		}
	}
	for in, want := range map[string]int64{
		"500MB": 500e6, "2GiB": 2 << 30, "1.5G": 1.5e9, "0": 0, "700": 700, "10 kB": 10e3, "64KiB": 64 << 10,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-5MB", "5XB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %v, want an error", in, got)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/saves"
	"github.com/skyloop-engine/skyloop/sdk"
)

// The saves commands are tested against what engine/saves wrote: two or
// three "devices" (saves.Store, each with its own directory) write to the
// real disk plugin (and to S3 through the real s3 plugin), one of them
// offline for a while so that the slot ends in a conflict under the Manual
// policy; then the built skyloop binary reads, restores and resolves, and
// fresh stores read back what it wrote.

var (
	savesPluginsOnce sync.Once
	savesPluginsDir  string
	savesPluginsErr  error
)

// savesPlugins builds skyloop-plugin-disk and skyloop-plugin-s3 once per
// test binary into one directory (the configs' plugin_dir).
func savesPlugins(t *testing.T) string {
	t.Helper()
	savesPluginsOnce.Do(func() {
		savesPluginsDir = filepath.Join(testDir, "saves-plugins")
		for _, name := range []string{"disk", "s3"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(savesPluginsDir, "skyloop-plugin-"+name), "github.com/skyloop-engine/skyloop/plugins/"+name).CombinedOutput()
			if err != nil {
				savesPluginsErr = fmt.Errorf("build plugin %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if savesPluginsErr != nil {
		t.Fatal(savesPluginsErr)
	}
	return savesPluginsDir
}

// managedSink is a plugin launched by a test, named as a sink.
type managedSink struct {
	name string
	*sdk.Client
}

func (s *managedSink) Name() string { return s.name }

// savesSink launches a plugin on settings, as the devices' sink.
func savesSink(t *testing.T, name, plugin string, settings map[string]string) *managedSink {
	t.Helper()
	c, err := sdk.Launch(context.Background(), sdk.LaunchOptions{Path: filepath.Join(savesPlugins(t), "skyloop-plugin-"+plugin), Settings: settings, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &managedSink{name: name, Client: c}
}

// savesDisk is an empty disk sink "local", its config for the tool and a
// client on it.
func savesDisk(t *testing.T) (cfg string, sink *managedSink) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "sink")
	cfg = writeConfig(filepath.Join(t.TempDir(), "saves.toml"), root, savesPlugins(t))
	return cfg, savesSink(t, "local", "disk", map[string]string{"root": root})
}

// device is one player's device: a saves.Store in its own directory, with
// the Manual policy, reading the sinks and Putting every version to each.
type device struct {
	t                  *testing.T
	dir, name          string
	game, player, pass string
	sinks              []*managedSink
	st                 *saves.Store
	offline            bool
	saved              map[string][]byte // version id → payload as saved
	noSync             bool              // open online without the first Sync
}

func newDevice(t *testing.T, name, game, pass string, sinks ...*managedSink) *device {
	d := &device{t: t, dir: t.TempDir(), name: name, game: game, player: "tester", pass: pass, sinks: sinks, saved: map[string][]byte{}}
	d.open(true)
	t.Cleanup(d.close)
	return d
}

var errOffline = errors.New("offline (test)")

// open opens the store online (the sinks) or offline (no remotes, and
// every upload failing as an unreachable sink does: the versions wait in
// the outbox for the next open).
func (d *device) open(online bool) {
	d.t.Helper()
	o := saves.Options{Dir: d.dir, Game: d.game, Player: d.player, DeviceName: d.name, Poll: -1, Policy: saves.Manual,
		Passphrase: d.pass, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d.offline = !online
	if online {
		for _, s := range d.sinks {
			o.Remotes = append(o.Remotes, s)
		}
		o.Upload = func(ctx context.Context, key string, data []byte) error {
			for _, s := range d.sinks {
				if _, err := s.Put(ctx, key, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))}); err != nil {
					return err
				}
			}
			return nil
		}
	} else {
		o.Upload = func(context.Context, string, []byte) error { return errOffline }
	}
	st, err := saves.Open(o)
	if err != nil {
		d.t.Fatal(err)
	}
	d.st = st
	if online {
		d.flush()
		if !d.noSync {
			d.sync()
		}
	}
}

func (d *device) close() {
	if d.st != nil {
		d.st.Close()
		d.st = nil
	}
}

func (d *device) reopen(online bool) { d.t.Helper(); d.close(); d.open(online) }

func (d *device) flush() {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.st.Flush(ctx); err != nil {
		d.t.Fatal(err)
	}
}

func (d *device) sync() {
	d.t.Helper()
	if err := d.st.Sync(context.Background()); err != nil {
		d.t.Fatal(err)
	}
}

// save saves v (and, online, waits until it is in every sink); it keeps
// the payload as stored, read back from the store.
func (d *device) save(slot string, v any, meta saves.Meta) saves.Version {
	d.t.Helper()
	ver, err := d.st.Save(slot, v, meta)
	if err != nil {
		d.t.Fatal(err)
	}
	payload, _, err := d.st.Read(slot, ver.ID)
	if err != nil {
		d.t.Fatal(err)
	}
	d.saved[ver.ID] = payload
	if !d.offline {
		d.flush()
	}
	return ver
}

func (d *device) id() string { id, _ := d.st.Device(); return id }

// questSave is a game's save with every kind of typed field.
type questSave struct {
	Level int                 `json:"level"`
	Best  saves.Best          `json:"best"`
	Coins saves.Counter       `json:"coins"`
	Ach   saves.Unlocks       `json:"ach"`
	Name  saves.Value[string] `json:"name"`
}

// questWorld is what the devices wrote, to check the tool against.
type questWorld struct {
	laptop, phone        *device
	a1, b2, a3, b4       saves.Version // slot main: a1 → b2 → (a3 | b4): a conflict
	blob1, blob2         saves.Version // slot blob: bytes
	blob1Data, blob2Data []byte
	story                []saves.Version // slot story: chapter 1, 2, 3
	thumb                []byte
}

// plantQuest writes game "quest" of player tester through two devices to
// sinks.
func plantQuest(t *testing.T, sinks ...*managedSink) *questWorld {
	t.Helper()
	w := &questWorld{}
	w.laptop = newDevice(t, "laptop", "quest", "", sinks...)
	w.phone = newDevice(t, "phone", "quest", "", sinks...)
	A, B := w.laptop, w.phone

	var q questSave
	q.Level = 1
	q.Best.Offer(100)
	q.Coins.Add(5)
	q.Ach.Unlock("first")
	q.Name.Set("ann")
	w.a1 = A.save("main", &q, saves.Meta{PlayTime: 10 * time.Minute, Progress: 0.1, Description: "level 1"})

	B.sync()
	var qb questSave
	if _, err := B.st.Load("main", &qb); err != nil {
		t.Fatal(err)
	}
	qb.Level = 2
	qb.Best.Offer(150)
	qb.Coins.Add(3)
	qb.Ach.Unlock("second")
	w.b2 = B.save("main", &qb, saves.Meta{PlayTime: 20 * time.Minute, Progress: 0.2, Description: "level 2"})
	A.sync()

	// Both offline: each plays on from b2.
	A.reopen(false)
	B.reopen(false)
	var qa questSave
	if _, err := A.st.Load("main", &qa); err != nil {
		t.Fatal(err)
	}
	qa.Level = 3
	qa.Coins.Add(1)
	w.a3 = A.save("main", &qa, saves.Meta{PlayTime: 30 * time.Minute, Progress: 0.3, Description: "level 3 on the laptop"})
	time.Sleep(5 * time.Millisecond) // b4 is the newer head
	qb = questSave{}
	if _, err := B.st.Load("main", &qb); err != nil {
		t.Fatal(err)
	}
	qb.Level = 4
	qb.Coins.Add(2)
	w.b4 = B.save("main", &qb, saves.Meta{PlayTime: 25 * time.Minute, Progress: 0.4, Description: "level 4 on the phone"})
	A.reopen(true)
	B.reopen(true)
	A.sync()
	if cs := A.st.Conflicts(); len(cs) != 1 || cs[0].Slot != "main" {
		t.Fatalf("test setup: want a conflict on main, got %+v", cs)
	}

	w.blob1Data, w.blob2Data = randomBytes(t, 1000), randomBytes(t, 700)
	w.thumb = append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(t, 40)...)
	w.blob1 = A.save("blob", w.blob1Data, saves.Meta{Description: "blob one", Thumbnail: w.thumb})
	w.blob2 = A.save("blob", w.blob2Data, saves.Meta{Description: "blob two"})
	for i := 1; i <= 3; i++ {
		w.story = append(w.story, A.save("story", map[string]any{"chapter": i, "text": strings.Repeat("x", i)}, saves.Meta{Progress: float64(i), Description: fmt.Sprint("chapter ", i)}))
	}
	B.sync()
	return w
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// runSaves runs the built skyloop binary (stdin /dev/null: not a terminal)
// with env added to a hermetic environment.
func runSaves(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(buildTool(t), args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, envSavesPassphrase+"=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// savesOK runs the binary and fails t unless it exits 0.
func savesOK(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := runSaves(t, env, args...)
	if code != 0 {
		t.Fatalf("skyloop %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func savesJSON[T any](t *testing.T, env []string, args ...string) T {
	t.Helper()
	var v T
	out := savesOK(t, env, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("skyloop %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// checkVersion compares a version as the tool printed it with what the
// device's Save returned.
func checkVersion(t *testing.T, what string, got SaveVersionJSON, want saves.Version) {
	t.Helper()
	if got.ID != want.ID || got.Device != want.Device || got.DeviceID != want.DeviceID || !got.Updated.Equal(want.Updated) ||
		got.PlayTimeMS != want.PlayTime.Milliseconds() || got.Progress != want.Progress || got.Description != want.Description ||
		got.Size != want.Size || got.Encoding != want.Encoding || got.Made != want.Made || got.Encrypted != want.Encrypted ||
		!slices.Equal(got.Parents, orEmpty(want.Parents)) || got.Clock != want.Clock.String() {
		t.Errorf("%s: the tool shows\n  %+v\nthe device wrote\n  %+v", what, got, want)
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func rowsByRef(rows []saveSlotRow) map[string]saveSlotRow {
	m := map[string]saveSlotRow{}
	for _, r := range rows {
		m[r.Ref] = r
	}
	return m
}

// sinkKeys lists the version keys of a sink under prefix.
func sinkKeys(t *testing.T, s *managedSink, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), prefix, func(o sdk.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

// freshLoad opens a new device on sinks and loads slot: what any game
// would now see.
func freshLoad(t *testing.T, game, slot, pass string, v any, sinks ...*managedSink) (*device, saves.Version) {
	t.Helper()
	d := newDevice(t, "fresh", game, pass, sinks...)
	ver, err := d.st.Load(slot, v)
	if err != nil {
		t.Fatalf("fresh store: Load %s: %v", slot, err)
	}
	return d, ver
}

func TestSavesListShowHistoryDisk(t *testing.T) {
	cfg, disk := savesDisk(t)
	w := plantQuest(t, disk)
	// Objects that are not versions under the saves prefix, and one that
	// names a version but is not one: listed with the error, nothing else
	// disturbed.
	put(t, disk, "quest/tester/saves/main/notes.txt", []byte("not a save"))
	put(t, disk, "quest/tester/saves/junk/1764614400000.000000-dbad.sav", []byte("hello"))
	put(t, disk, "quest/tester/sessions/x/session.json", []byte("{}"))

	// list: one row per slot; main in conflict between a3 and b4.
	out, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "list", "--json")
	if code != 1 || !strings.Contains(errOut, "could not be read") {
		t.Fatalf("list with a damaged version: exit %d (want 1)\n%s", code, errOut)
	}
	var rows []saveSlotRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byRef := rowsByRef(rows)
	if len(rows) != 4 || len(byRef) != 4 {
		t.Fatalf("want 4 rows (blob, junk, main, story), got %+v", rows)
	}
	junk := byRef["quest/tester/junk"]
	if junk.SaveVersionJSON != nil || !strings.Contains(junk.Error, "not a skyloop save") || !strings.Contains(junk.Error, "local") {
		t.Errorf("junk row: %+v", junk)
	}
	main := byRef["quest/tester/main"]
	if main.SaveVersionJSON == nil || !main.Conflict || main.Error != "" {
		t.Fatalf("main row: %+v", main)
	}
	heads := []string{w.a3.ID, w.b4.ID}
	sort.Strings(heads)
	gotHeads := slices.Clone(main.Heads)
	sort.Strings(gotHeads)
	if !slices.Equal(gotHeads, heads) || !slices.Contains(main.ConflictFields, "/level") || main.Versions != 4 {
		t.Errorf("main: heads %v (want %v), fields %v (want /level among them), versions %d (want 4)", main.Heads, heads, main.ConflictFields, main.Versions)
	}
	newest := w.b4
	if newest.Clock.Less(w.a3.Clock) {
		newest = w.a3
	}
	checkVersion(t, "main's current version", *main.SaveVersionJSON, newest)
	if !slices.Equal(main.Sinks, []string{"local"}) || !main.Current || !main.Head {
		t.Errorf("main: sinks %v, current %v, head %v", main.Sinks, main.Current, main.Head)
	}
	checkVersion(t, "blob's current version", *byRef["quest/tester/blob"].SaveVersionJSON, w.blob2)
	checkVersion(t, "story's current version", *byRef["quest/tester/story"].SaveVersionJSON, w.story[2])
	if r := byRef["quest/tester/story"]; r.Conflict || r.Versions != 3 {
		t.Errorf("story: %+v", r)
	}

	// The table says the same; --game of another game lists nothing.
	out, _, _ = runSaves(t, nil, "--config", cfg, "saves", "list")
	for _, want := range []string{"quest/tester/main", newest.ID, "CONFLICT (2 versions)", "level 4 on the phone", "quest/tester/junk", "not a skyloop save"} {
		if !strings.Contains(out, want) {
			t.Errorf("list table lacks %q:\n%s", want, out)
		}
	}
	if out := savesOK(t, nil, "--config", cfg, "saves", "list", "--game", "nosuch"); !strings.Contains(out, "no saves in sink(s) local") {
		t.Errorf("list --game nosuch: %s", out)
	}
	if rows := savesJSON[[]saveSlotRow](t, nil, "--config", cfg, "saves", "list", "--game", "quest", "--player", "nobody"); len(rows) != 0 {
		t.Errorf("list --player nobody: %+v", rows)
	}

	// show: the current version, its content as the device saved it,
	// typed fields with their values, and the conflict.
	show := savesJSON[saveShowJSON](t, nil, "--config", cfg, "saves", "show", "quest/tester/main")
	checkVersion(t, "show main", show.Version, newest)
	owner := w.laptop
	if newest.ID == w.b4.ID {
		owner = w.phone
	}
	if !jsonEqual(show.Content, owner.saved[newest.ID]) {
		t.Errorf("show main: content %s, the device saved %s", show.Content, owner.saved[newest.ID])
	}
	if show.Conflict == nil || len(show.Conflict.Heads) != 2 {
		t.Fatalf("show main: conflict %+v", show.Conflict)
	}
	coins := fieldAt(t, show.Fields, "/coins")
	wantCoins := map[string]int64{w.laptop.id(): 5, w.phone.id(): 5} // b4: laptop 5, phone 3+2
	if newest.ID == w.a3.ID {
		wantCoins = map[string]int64{w.laptop.id(): 6, w.phone.id(): 3}
	}
	if coins.Kind != "counter" || fmt.Sprint(coins.Devices) != fmt.Sprint(wantCoins) || fmt.Sprint(coins.Value) != "10" && newest.ID == w.b4.ID || fmt.Sprint(coins.Value) != "9" && newest.ID == w.a3.ID {
		t.Errorf("coins: %+v, want devices %v", coins, wantCoins)
	}
	if best := fieldAt(t, show.Fields, "/best"); best.Kind != "best" || fmt.Sprint(best.Value) != "150" {
		t.Errorf("best: %+v", best)
	}
	if ach := fieldAt(t, show.Fields, "/ach"); ach.Kind != "unlocks" || len(ach.Unlocked) != 2 || ach.Unlocked["first"] == "" || ach.Unlocked["second"] == "" {
		t.Errorf("ach: %+v", ach)
	}
	if name := fieldAt(t, show.Fields, "/name"); name.Kind != "value" || name.Value != "ann" || name.By != w.laptop.id() {
		t.Errorf("name: %+v", name)
	}
	text := savesOK(t, nil, "--config", cfg, "saves", "show", "quest/tester/main")
	for _, want := range []string{
		"version " + newest.ID, "CONFLICT: 2 versions", w.a3.ID, w.b4.ID, "/level", "saves resolve quest/tester/main --keep ID",
		fmt.Sprintf("counter %v = ", coins.Value), "laptop (" + w.laptop.id() + ")", "phone (" + w.phone.id() + ")",
		"best 150", "unlocks 2: first (", `value "ann"`, `"level": `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("show main lacks %q:\n%s", want, text)
		}
	}

	// --version: any version of the history, by a unique prefix too.
	old := savesJSON[saveShowJSON](t, nil, "--config", cfg, "saves", "show", "quest/tester/main", "--version", w.a1.ID)
	checkVersion(t, "show --version a1", old.Version, w.a1)
	if !jsonEqual(old.Content, w.laptop.saved[w.a1.ID]) || old.Version.Current || old.Version.Head {
		t.Errorf("show --version a1: %s current=%v head=%v", old.Content, old.Version.Current, old.Version.Head)
	}
	_, errOut, code = runSaves(t, nil, "--config", cfg, "saves", "show", "quest/tester/main", "--version", "17")
	if code != 1 || !strings.Contains(errOut, "matches 4 versions") {
		t.Errorf("ambiguous --version: exit %d %s", code, errOut)
	}
	_, errOut, code = runSaves(t, nil, "--config", cfg, "saves", "show", "quest/tester/main", "--version", "9999")
	if code != 1 || !strings.Contains(errOut, "no version 9999") {
		t.Errorf("unknown --version: exit %d %s", code, errOut)
	}

	// A bytes slot: a hex dump of the first 256 bytes, the size, export.
	text = savesOK(t, nil, "--config", cfg, "saves", "show", "quest/tester/blob")
	if !strings.Contains(text, "content: 700 bytes, the first 256") || !strings.Contains(text, hex.Dump(w.blob2Data[:256])) || strings.Contains(text, hex.Dump(w.blob2Data[:272])) {
		t.Errorf("show blob:\n%s", text)
	}
	bshow := savesJSON[saveShowJSON](t, nil, "--config", cfg, "saves", "show", "quest/tester/blob", "--version", w.blob1.ID)
	if bshow.DataBase64 == "" || bshow.Content != nil || bshow.ThumbnailBytes != len(w.thumb) {
		t.Errorf("show blob --json: %+v", bshow)
	}

	// history: newest first, lineage as written.
	h := savesJSON[saveHistoryJSON](t, nil, "--config", cfg, "saves", "history", "quest/tester/main")
	if len(h.Versions) != 4 {
		t.Fatalf("history: %d versions, want 4: %+v", len(h.Versions), h.Versions)
	}
	for i := 1; i < len(h.Versions); i++ {
		if h.Versions[i].Clock > h.Versions[i-1].Clock {
			t.Errorf("history not newest first: %s before %s", h.Versions[i-1].ID, h.Versions[i].ID)
		}
	}
	want := map[string]saves.Version{w.a1.ID: w.a1, w.b2.ID: w.b2, w.a3.ID: w.a3, w.b4.ID: w.b4}
	for _, v := range h.Versions {
		wv, ok := want[v.ID]
		if !ok {
			t.Errorf("history lists %s, which no device wrote", v.ID)
			continue
		}
		checkVersion(t, "history "+v.ID, v, wv)
		if head := v.ID == w.a3.ID || v.ID == w.b4.ID; v.Head != head {
			t.Errorf("history %s: head %v, want %v", v.ID, v.Head, head)
		}
	}
	if h.Conflict == nil || len(h.Conflict.Heads) != 2 {
		t.Errorf("history conflict: %+v", h.Conflict)
	}
	if h := savesJSON[saveHistoryJSON](t, nil, "--config", cfg, "saves", "history", "quest/tester/main", "--limit", "1"); len(h.Versions) != 1 || h.Versions[0].ID != newest.ID {
		t.Errorf("history --limit 1: %+v", h.Versions)
	}
	text = savesOK(t, nil, "--config", cfg, "saves", "history", "quest/tester/main")
	for _, want := range []string{"quest/tester/main: 4 versions, newest first", newest.ID + "  save  CURRENT HEAD", "parents:     " + w.b2.ID, "level 3 on the laptop"} {
		if !strings.Contains(text, want) {
			t.Errorf("history text lacks %q:\n%s", want, text)
		}
	}

	// Damaged: show of a slot whose only version is junk is an error that
	// says so; a slot that does not exist, or a bad reference, too.
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "show", "quest/tester/junk"); code != 1 || !strings.Contains(errOut, "not a skyloop save") {
		t.Errorf("show junk: exit %d %s", code, errOut)
	}
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "show", "quest/tester/nosuch"); code != 1 || !strings.Contains(errOut, "no such save slot in sink(s) local") {
		t.Errorf("show nosuch: exit %d %s", code, errOut)
	}
	for _, bad := range []string{"quest/main", "quest/tester/bad slot", "quest//main", "a/b/c/d"} {
		if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "show", bad); code != 2 || !strings.Contains(errOut, "GAME/PLAYER/SLOT") && !strings.Contains(errOut, "slot name") {
			t.Errorf("show %q: exit %d %s", bad, code, errOut)
		}
	}
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "list", "--sink", "nope"); code != 2 || !strings.Contains(errOut, "no such sink") {
		t.Errorf("--sink nope: exit %d %s", code, errOut)
	}

	// Reading changed nothing in the sink: the tool wrote no merge, no
	// version, deleted nothing.
	before := sinkKeys(t, disk, "quest/")
	runSaves(t, nil, "--config", cfg, "saves", "list")
	if after := sinkKeys(t, disk, "quest/"); !slices.Equal(before, after) {
		t.Errorf("reading changed the sink:\nbefore %v\nafter  %v", before, after)
	}
}

func TestSavesExport(t *testing.T) {
	cfg, disk := savesDisk(t)
	w := plantQuest(t, disk)
	dir := t.TempDir()
	out := filepath.Join(dir, "blob.bin")

	res := savesJSON[saveExportJSON](t, nil, "--config", cfg, "saves", "export", "quest/tester/blob", "--out", out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, w.blob2Data) {
		t.Fatalf("export: %d bytes, not the %d saved", len(got), len(w.blob2Data))
	}
	if sum := sha256.Sum256(w.blob2Data); res.SHA256 != hex.EncodeToString(sum[:]) || res.Bytes != 700 || res.Version != w.blob2.ID {
		t.Errorf("export --json: %+v", res)
	}
	// An existing file is refused without --force and left alone.
	_, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "export", "quest/tester/blob", "--out", out, "--version", w.blob1.ID)
	if code != 2 || !strings.Contains(errOut, "--force") {
		t.Fatalf("export over a file: exit %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, w.blob2Data) {
		t.Fatal("a refused export changed the file")
	}
	savesOK(t, nil, "--config", cfg, "saves", "export", "quest/tester/blob", "--out", out, "--version", w.blob1.ID[:len(w.blob1.ID)-3], "--force")
	if got, _ := os.ReadFile(out); !bytes.Equal(got, w.blob1Data) {
		t.Fatal("export --version --force: not the first version's bytes")
	}
	thumb := filepath.Join(dir, "thumb.png")
	savesOK(t, nil, "--config", cfg, "saves", "export", "quest/tester/blob", "--version", w.blob1.ID, "--thumbnail", "--out", thumb)
	if got, _ := os.ReadFile(thumb); !bytes.Equal(got, w.thumb) {
		t.Fatal("export --thumbnail: not the saved thumbnail")
	}
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "export", "quest/tester/blob", "--thumbnail", "--out", filepath.Join(dir, "none.png")); code != 1 || !strings.Contains(errOut, "no thumbnail") {
		t.Errorf("export --thumbnail of a version without one: exit %d %s", code, errOut)
	}
	// A JSON slot exports the JSON as saved, byte for byte.
	js := filepath.Join(dir, "main.json")
	savesOK(t, nil, "--config", cfg, "saves", "export", "quest/tester/main", "--version", w.a1.ID, "--out", js)
	if got, _ := os.ReadFile(js); !bytes.Equal(got, w.laptop.saved[w.a1.ID]) {
		t.Fatalf("export of a JSON version: %s, saved %s", got, w.laptop.saved[w.a1.ID])
	}
	for _, args := range [][]string{
		{"export", "quest/tester/blob"},
		{"export", "quest/tester/blob", "--out", filepath.Join(dir, "no", "such", "dir")},
		{"export", "quest/tester/blob", "--out", dir},
	} {
		if _, errOut, code := runSaves(t, nil, append([]string{"--config", cfg, "saves"}, args...)...); code != 2 {
			t.Errorf("%v: exit %d (want 2) %s", args, code, errOut)
		}
	}
}

func TestSavesRestoreResolveDisk(t *testing.T) {
	cfg, disk := savesDisk(t)
	w := plantQuest(t, disk)
	keys := sinkKeys(t, disk, "quest/")

	// No terminal, no --yes: refused, nothing written. Bad ids: nothing
	// written either.
	_, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "restore", "quest/tester/story", "--version", w.story[0].ID)
	if code != 2 || !strings.Contains(errOut, "--yes") || !strings.Contains(errOut, "not a terminal") {
		t.Fatalf("restore without --yes: exit %d %s", code, errOut)
	}
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "restore", "quest/tester/story", "--yes"); code != 2 || !strings.Contains(errOut, "--version") {
		t.Errorf("restore without --version: exit %d %s", code, errOut)
	}
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "restore", "quest/tester/story", "--version", "0000", "--yes"); code != 1 || !strings.Contains(errOut, "no version 0000") {
		t.Errorf("restore of an unknown version: exit %d %s", code, errOut)
	}
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "resolve", "quest/tester/story", "--keep", w.story[0].ID, "--yes"); code != 1 || !strings.Contains(errOut, "no conflict") {
		t.Errorf("resolve without a conflict: exit %d %s", code, errOut)
	}
	if after := sinkKeys(t, disk, "quest/"); !slices.Equal(keys, after) {
		t.Fatalf("refused commands wrote to the sink: %v", after)
	}

	// restore: chapter 1 is current again, for the devices and for a
	// fresh one, as a new version by the tool.
	res := savesJSON[saveWriteJSON](t, nil, "--config", cfg, "saves", "restore", "quest/tester/story", "--version", w.story[0].ID, "--yes")
	if res.Version.Made != "restore" || res.Version.Restored != w.story[0].ID || res.Version.Device != savesDeviceName || !slices.Equal(res.Sinks, []string{"local"}) {
		t.Errorf("restore --json: %+v", res)
	}
	if !slices.Contains(sinkKeys(t, disk, "quest/tester/saves/story/"), "quest/tester/saves/story/"+res.Version.ID+".sav") {
		t.Fatalf("the restored version %s is not in the sink", res.Version.ID)
	}
	var story map[string]any
	fresh, ver := freshLoad(t, "quest", "story", "", &story, disk)
	if ver.ID != res.Version.ID || fmt.Sprint(story) != fmt.Sprint(map[string]any{"chapter": 1.0, "text": "x"}) || ver.Description != "chapter 1" || ver.Progress != 1 {
		t.Errorf("after restore a fresh store loads %s %v %+v", ver.ID, story, ver)
	}
	if p, _, _ := fresh.st.Read("story", ver.ID); !bytes.Equal(p, w.laptop.saved[w.story[0].ID]) {
		t.Errorf("restored content %s, chapter 1 was %s", p, w.laptop.saved[w.story[0].ID])
	}
	w.laptop.sync()
	story = nil
	if v, err := w.laptop.st.Load("story", &story); err != nil || v.ID != res.Version.ID {
		t.Errorf("the writing device after restore: %v %v", v.ID, err)
	}
	h := savesJSON[saveHistoryJSON](t, nil, "--config", cfg, "saves", "history", "quest/tester/story")
	if len(h.Versions) != 4 || h.Versions[0].ID != res.Version.ID || !h.Versions[0].Current || !slices.Equal(h.Versions[0].Parents, []string{w.story[2].ID}) {
		t.Errorf("history after restore: %+v", h.Versions)
	}

	// resolve: keep a3; the conflict ends everywhere, a3's content is
	// current.
	text := savesOK(t, nil, "--config", cfg, "saves", "resolve", "quest/tester/main", "--keep", w.a3.ID, "--yes")
	if !strings.Contains(text, "resolved quest/tester/main: new version") || !strings.Contains(text, "set aside "+w.b4.ID) {
		t.Errorf("resolve: %s", text)
	}
	var q questSave
	fresh, ver = freshLoad(t, "quest", "main", "", &q, disk)
	if cs := fresh.st.Conflicts(); len(cs) != 0 {
		t.Errorf("after resolve a fresh store has conflicts %+v", cs)
	}
	if ver.Made != "resolve" || ver.Restored != w.a3.ID || q.Level != 3 || q.Best.Value() != 150 {
		t.Errorf("after resolve: %+v level %d best %d", ver, q.Level, q.Best.Value())
	}
	// a3's plain values, with the typed fields of both sides joined: the
	// phone's coins from b4 are not lost by keeping a3.
	var a3, b4 questSave
	if err := json.Unmarshal(w.laptop.saved[w.a3.ID], &a3); err != nil {
		t.Fatal(err)
	}
	if p, _, err := fresh.st.Read("main", w.b4.ID); err != nil || json.Unmarshal(p, &b4) != nil {
		t.Fatalf("reading b4: %v", err)
	}
	wantCoins := int64(0)
	for dev, n := range a3.Coins.Devices() {
		wantCoins += max(n, b4.Coins.Devices()[dev])
	}
	for dev, n := range b4.Coins.Devices() {
		if _, ok := a3.Coins.Devices()[dev]; !ok {
			wantCoins += n
		}
	}
	if q.Coins.Value() != wantCoins || q.Level != a3.Level || q.Name.Get() != a3.Name.Get() {
		t.Errorf("resolved: coins %d (want %d, both sides' counts), level %d name %q (want a3's %d %q)", q.Coins.Value(), wantCoins, q.Level, q.Name.Get(), a3.Level, a3.Name.Get())
	}
	for _, d := range []*device{w.laptop, w.phone} {
		d.sync()
		if cs := d.st.Conflicts(); len(cs) != 0 {
			t.Errorf("%s still has conflicts after resolve: %+v", d.name, cs)
		}
		var dq questSave
		if v, err := d.st.Load("main", &dq); err != nil || v.ID != ver.ID || dq.Level != 3 {
			t.Errorf("%s after resolve loads %s level %d (%v)", d.name, v.ID, dq.Level, err)
		}
	}
	rows := rowsByRef(savesJSON[[]saveSlotRow](t, nil, "--config", cfg, "saves", "list"))
	if r := rows["quest/tester/main"]; r.Conflict || r.SaveVersionJSON == nil || r.ID != ver.ID {
		t.Errorf("list after resolve: %+v", r)
	}
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "resolve", "quest/tester/main", "--keep", w.b4.ID, "--yes"); code != 1 || !strings.Contains(errOut, "no conflict") {
		t.Errorf("second resolve: exit %d %s", code, errOut)
	}
}

// On a terminal restore asks and only "y" writes; the real binary, a real
// pseudo-terminal.
func TestSavesRestoreAsksOnATerminal(t *testing.T) {
	cfg, disk := savesDisk(t)
	d := newDevice(t, "laptop", "quest", "", disk)
	v1 := d.save("story", map[string]int{"chapter": 1}, saves.Meta{})
	d.save("story", map[string]int{"chapter": 2}, saves.Meta{})
	keys := sinkKeys(t, disk, "quest/")
	question := fmt.Sprintf("restore quest/tester/story to version %s, writing a new version to sink(s) local? [y/N]", v1.ID)
	for _, answer := range []string{"n\n", "\n"} {
		shown, code := onTerminal(t, answer, "--config", cfg, "saves", "restore", "quest/tester/story", "--version", v1.ID)
		if code != 1 || !strings.Contains(shown, question) || !strings.Contains(shown, "nothing written") {
			t.Fatalf("answer %q: exit %d:\n%s", answer, code, shown)
		}
	}
	if after := sinkKeys(t, disk, "quest/"); !slices.Equal(keys, after) {
		t.Fatalf("a no wrote to the sink: %v", after)
	}
	shown, code := onTerminal(t, "y\n", "--config", cfg, "saves", "restore", "quest/tester/story", "--version", v1.ID)
	if code != 0 || !strings.Contains(shown, "restored quest/tester/story: new version") {
		t.Fatalf("answer y: exit %d:\n%s", code, shown)
	}
	var story map[string]int
	if _, ver := freshLoad(t, "quest", "story", "", &story, disk); story["chapter"] != 1 || ver.Made != "restore" {
		t.Errorf("after restore on a terminal: %v %+v", story, ver)
	}
}

func TestSavesEncrypted(t *testing.T) {
	cfg, disk := savesDisk(t)
	plain := newDevice(t, "laptop", "quest", "", disk)
	plainV := plain.save("story", map[string]int{"chapter": 1}, saves.Meta{})
	e := newDevice(t, "vault-pc", "secret", "open sesame", disk)
	type vault struct {
		Gold saves.Counter `json:"gold"`
		Note string        `json:"note"`
	}
	var v vault
	v.Gold.Add(7)
	v.Note = "hidden note"
	e1 := e.save("vault", &v, saves.Meta{Description: "first"})
	v.Note = "second note"
	e2 := e.save("vault", &v, saves.Meta{Description: "second"})
	// Nothing of the content is in the sink in the clear.
	for _, key := range sinkKeys(t, disk, "secret/") {
		var buf bytes.Buffer
		if _, err := disk.Get(context.Background(), key, &buf, sdk.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte("note")) || bytes.Contains(buf.Bytes(), []byte("vault-pc")) {
			t.Fatalf("%s holds plain text", key)
		}
	}
	ref := "secret/tester/vault"
	passFile := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte("open sesame\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongFile, []byte("open barley\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// No passphrase: says how to give one.
	out, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "show", ref)
	if code != 2 || out != "" || !strings.Contains(errOut, "--passphrase-file") || !strings.Contains(errOut, envSavesPassphrase) {
		t.Errorf("show without a passphrase: exit %d\n%s%s", code, out, errOut)
	}
	// Wrong: the clear error, never content.
	for _, how := range [][]string{{"--passphrase-file", wrongFile}, {}} {
		env := []string{envSavesPassphrase + "=open barley"}
		if len(how) > 0 {
			env = nil
		}
		for _, sub := range []string{"show", "history", "export"} {
			args := append([]string{"--config", cfg, "saves", sub, ref}, how...)
			if sub == "export" {
				args = append(args, "--out", filepath.Join(t.TempDir(), "x"))
			}
			out, errOut, code := runSaves(t, env, args...)
			if code != 1 || out != "" || !strings.Contains(errOut, saves.ErrWrongPassphrase.Error()) || !strings.Contains(errOut, "sink(s) local") {
				t.Errorf("%s with a wrong passphrase %v: exit %d\n%s%s", sub, how, code, out, errOut)
			}
		}
	}
	if _, errOut, code := runSaves(t, []string{envSavesPassphrase + "=open barley"}, "--config", cfg, "saves", "restore", ref, "--version", e1.ID, "--yes"); code != 1 || !strings.Contains(errOut, "wrong passphrase") {
		t.Errorf("restore with a wrong passphrase: exit %d %s", code, errOut)
	}

	// Right, from the file or the environment: content, typed fields.
	for _, how := range [][]string{{"--passphrase-file", passFile}, {}} {
		env := []string{envSavesPassphrase + "=open sesame"}
		if len(how) > 0 {
			env = []string{envSavesPassphrase + "=open barley"} // the file wins
		}
		show := savesJSON[saveShowJSON](t, env, append([]string{"--config", cfg, "saves", "show", ref}, how...)...)
		checkVersion(t, "encrypted show", show.Version, e2)
		if !jsonEqual(show.Content, e.saved[e2.ID]) || !show.Version.Encrypted {
			t.Errorf("encrypted show %v: %s", how, show.Content)
		}
		if g := fieldAt(t, show.Fields, "/gold"); fmt.Sprint(g.Value) != "7" || g.Devices[e.id()] != 7 {
			t.Errorf("gold: %+v", g)
		}
	}
	x := filepath.Join(t.TempDir(), "vault.json")
	savesOK(t, nil, "--config", cfg, "saves", "export", ref, "--version", e1.ID, "--out", x, "--passphrase-file", passFile)
	if got, _ := os.ReadFile(x); !bytes.Equal(got, e.saved[e1.ID]) {
		t.Errorf("encrypted export: %s, saved %s", got, e.saved[e1.ID])
	}
	if st, err := os.Stat(x); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("an encrypted slot's export is mode %v, want 0600 (%v)", st.Mode().Perm(), err)
	}

	// list: without a passphrase the encrypted slot is a row that says
	// how, the plain slot lists; with it both, from the two kinds.
	out, errOut, code = runSaves(t, nil, "--config", cfg, "saves", "list", "--json")
	var rows []saveSlotRow
	json.Unmarshal([]byte(out), &rows)
	byRef := rowsByRef(rows)
	if code != 1 || byRef[ref].SaveVersionJSON != nil || !strings.Contains(byRef[ref].Error, "--passphrase-file") || byRef["quest/tester/story"].SaveVersionJSON == nil {
		t.Errorf("list without a passphrase: exit %d %+v\n%s", code, rows, errOut)
	}
	byRef = rowsByRef(savesJSON[[]saveSlotRow](t, []string{envSavesPassphrase + "=open sesame"}, "--config", cfg, "saves", "list"))
	if r := byRef[ref]; r.SaveVersionJSON == nil || r.ID != e2.ID || !r.Encrypted || r.Error != "" {
		t.Errorf("list with the passphrase, vault: %+v", r)
	}
	if r := byRef["quest/tester/story"]; r.SaveVersionJSON == nil || r.ID != plainV.ID || r.Encrypted {
		t.Errorf("list with the passphrase, the plain slot: %+v", r)
	}
	out, errOut, code = runSaves(t, []string{envSavesPassphrase + "=open barley"}, "--config", cfg, "saves", "list")
	if code != 1 || !strings.Contains(out, "quest/tester/story") || !strings.Contains(out, "wrong passphrase") || strings.Contains(out, "second") {
		t.Errorf("list with a wrong passphrase: exit %d\n%s%s", code, out, errOut)
	}

	// restore of an encrypted slot writes an encrypted version that the
	// game reads with its passphrase, and nobody without it.
	res := savesJSON[saveWriteJSON](t, []string{envSavesPassphrase + "=open sesame"}, "--config", cfg, "saves", "restore", ref, "--version", e1.ID, "--yes")
	if !res.Version.Encrypted {
		t.Errorf("the restored version is not encrypted: %+v", res.Version)
	}
	var back vault
	if _, ver := freshLoad(t, "secret", "vault", "open sesame", &back, disk); ver.ID != res.Version.ID || back.Note != "hidden note" || back.Gold.Value() != 7 {
		t.Errorf("after an encrypted restore: %+v %+v", ver, back)
	}
	nopass := newDevice(t, "thief", "secret", "", disk)
	if _, err := nopass.st.Load("vault", &back); !errors.Is(err, saves.ErrNotFound) {
		t.Errorf("a store without the passphrase loads the vault: %v", err)
	}

	// On a terminal the tool asks for the passphrase.
	shown, code := onTerminal(t, "open sesame\n", "--config", cfg, "saves", "show", ref)
	if code != 0 || !strings.Contains(shown, "passphrase for the encrypted saves of "+ref) || !strings.Contains(shown, `"note": "hidden note"`) {
		t.Errorf("passphrase typed on a terminal: exit %d\n%s", code, shown)
	}
	shown, code = onTerminal(t, "open barley\n", "--config", cfg, "saves", "show", ref)
	if code != 1 || !strings.Contains(shown, "wrong passphrase") || strings.Contains(shown, "hidden note") {
		t.Errorf("wrong passphrase typed on a terminal: exit %d\n%s", code, shown)
	}
}

// Over S3 (versitygw, the real s3 plugin) beside the disk sink: a version
// in both sinks is one version; list, show, restore and resolve work on
// the S3 sink alone; what restore wrote reads back through S3.
func TestSavesOverS3(t *testing.T) {
	srv := enginetest.StartS3Server(t)
	plugins := savesPlugins(t)
	settings := map[string]string{
		"bucket": srv.Bucket, "endpoint": srv.Endpoint, "region": "us-east-1",
		"access_key_id": srv.Access, "secret_access_key": srv.Secret, "prefix": "games/",
	}
	cloud := savesSink(t, "cloud", "s3", settings)
	root := filepath.Join(t.TempDir(), "sink")
	local := savesSink(t, "local", "disk", map[string]string{"root": root})
	cfg := filepath.Join(t.TempDir(), "two-sinks.toml")
	doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n[[sink]]\nname = \"cloud\"\nplugin = \"s3\"\n[sink.settings]\n", plugins, root)
	for _, k := range []string{"bucket", "endpoint", "region", "access_key_id", "secret_access_key", "prefix"} {
		doc += fmt.Sprintf("%s = %q\n", k, settings[k])
	}
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	w := plantQuest(t, local, cloud)

	rows := savesJSON[[]saveSlotRow](t, nil, "--config", cfg, "saves", "list")
	if len(rows) != 3 {
		t.Fatalf("list over two sinks holding the same versions: %d rows, want 3: %+v", len(rows), rows)
	}
	for _, r := range rows {
		if !slices.Equal(r.Sinks, []string{"local", "cloud"}) {
			t.Errorf("%s: sinks %v, want both", r.Ref, r.Sinks)
		}
	}
	byRef := rowsByRef(rows)
	if r := byRef["quest/tester/main"]; !r.Conflict || r.Versions != 4 {
		t.Errorf("main over two sinks: %+v", r)
	}
	cloudRows := rowsByRef(savesJSON[[]saveSlotRow](t, nil, "--config", cfg, "saves", "list", "--sink", "cloud"))
	if r := cloudRows["quest/tester/story"]; r.SaveVersionJSON == nil || !slices.Equal(r.Sinks, []string{"cloud"}) {
		t.Errorf("list --sink cloud: %+v", r)
	} else {
		checkVersion(t, "story from S3", *r.SaveVersionJSON, w.story[2])
	}
	show := savesJSON[saveShowJSON](t, nil, "--config", cfg, "saves", "show", "--sink", "cloud", "quest/tester/story", "--version", w.story[1].ID)
	if !jsonEqual(show.Content, w.laptop.saved[w.story[1].ID]) {
		t.Errorf("show from S3: %s", show.Content)
	}

	// restore to the S3 sink only: the new version is in the bucket, not
	// on disk; a store on S3 alone loads it; both sinks together show it
	// as current, held by cloud.
	res := savesJSON[saveWriteJSON](t, nil, "--config", cfg, "saves", "restore", "--sink", "cloud", "quest/tester/story", "--version", w.story[0].ID, "--yes")
	key := "quest/tester/saves/story/" + res.Version.ID + ".sav"
	if !slices.Contains(sinkKeys(t, cloud, "quest/"), key) || slices.Contains(sinkKeys(t, local, "quest/"), key) || !slices.Equal(res.Sinks, []string{"cloud"}) {
		t.Fatalf("restore --sink cloud: %s in cloud %v, in local %v (%+v)", key, slices.Contains(sinkKeys(t, cloud, "quest/"), key), slices.Contains(sinkKeys(t, local, "quest/"), key), res)
	}
	var story map[string]any
	if _, ver := freshLoad(t, "quest", "story", "", &story, cloud); ver.ID != res.Version.ID || story["chapter"] != 1.0 {
		t.Errorf("after restore a store on S3 loads %s %v", ver.ID, story)
	}
	byRef = rowsByRef(savesJSON[[]saveSlotRow](t, nil, "--config", cfg, "saves", "list"))
	if r := byRef["quest/tester/story"]; r.SaveVersionJSON == nil || r.ID != res.Version.ID || !slices.Equal(r.Sinks, []string{"cloud"}) {
		t.Errorf("list after restore to cloud: %+v", r)
	}

	// resolve on both sinks: the new version lands in both.
	res = savesJSON[saveWriteJSON](t, nil, "--config", cfg, "saves", "resolve", "quest/tester/main", "--keep", w.b4.ID, "--yes")
	if !slices.Equal(res.Sinks, []string{"local", "cloud"}) {
		t.Errorf("resolve: written to %v", res.Sinks)
	}
	var q questSave
	fresh, ver := freshLoad(t, "quest", "main", "", &q, cloud)
	if ver.ID != res.Version.ID || q.Level != 4 || len(fresh.st.Conflicts()) != 0 {
		t.Errorf("after resolve, a store on S3: %s level %d conflicts %v", ver.ID, q.Level, fresh.st.Conflicts())
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func fieldAt(t *testing.T, fs []saveFieldJSON, path string) saveFieldJSON {
	t.Helper()
	for _, f := range fs {
		if f.Path == path {
			return f
		}
	}
	t.Errorf("no typed field %s in %+v", path, fs)
	return saveFieldJSON{}
}

// Unit checks of the parts that need no sink.
func TestSavesRefsAndFields(t *testing.T) {
	for in, ok := range map[string]bool{"g/p/s": true, "g/p/s.1_x-y": true, "g/p": false, "g/p/s/t": false, "/p/s": false, "g//s": false, "g/p/.s": false, "g/p/": false} {
		if _, err := parseSaveRef(in); (err == nil) != ok {
			t.Errorf("parseSaveRef(%q): %v", in, err)
		}
	}
	for key, ok := range map[string]bool{
		"g/p/saves/s/1764614400000.000000-d0123456789.sav": true,
		"g/p/saves/s/1764614400000.000000-m0123456789.sav": true,
		"g/p/saves/s/1764614400000.000000-d0123456789.tmp": false,
		"g/p/saves/s/x.sav":                           false,
		"g/p/sessions/s/1764614400000.000000-d01.sav": false,
		"x/g/p/saves/s/1764614400000.000000-d01.sav":  false,
	} {
		if _, _, _, _, got := saveKeyParts(key); got != ok {
			t.Errorf("saveKeyParts(%q) = %v", key, got)
		}
	}
	fs := saveTypedFields([]byte(`{"a":{"$best":3},"b":[{"$counter":{"d1":2,"d2":-1}}],"c":{"$least":null},"d":{"$lww":{"x":1},"at":"1764614400000.000001","by":"d1"},"e":{"$best":1,"other":2},"f":{"$unlocks":{}}}`))
	got := map[string]string{}
	for _, f := range fs {
		got[f.Path] = f.Kind + " " + fmt.Sprint(f.Value)
	}
	want := map[string]string{"/a": "best 3", "/b/0": "counter 1", "/c": "least <nil>", "/d": "value map[x:1]", "/f": "unlocks 0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("typed fields: %v, want %v", got, want)
	}
}

// Two devices that both played offline and changed only typed fields: no
// conflict, the tool shows the merge every game makes (same id, same
// content) as "merged here" without writing it; restore afterwards
// uploads it with the new version.
func TestSavesTypedMerge(t *testing.T) {
	cfg, disk := savesDisk(t)
	A := newDevice(t, "laptop", "quest", "", disk)
	B := newDevice(t, "phone", "quest", "", disk)
	var q questSave
	q.Coins.Add(5)
	base := A.save("main", &q, saves.Meta{Description: "start"})
	B.sync()
	A.reopen(false)
	B.reopen(false)
	for _, d := range []struct {
		dev  *device
		n    int64
		name string
	}{{A, 2, "a"}, {B, 3, "b"}} {
		var q questSave
		if _, err := d.dev.st.Load("main", &q); err != nil {
			t.Fatal(err)
		}
		q.Coins.Add(d.n)
		q.Ach.Unlock(d.name)
		d.dev.save("main", &q, saves.Meta{Description: "offline " + d.name})
	}
	// Back online, uploading what they saved, but not syncing yet: the
	// sink holds the two heads and no merge.
	A.noSync, B.noSync = true, true
	A.reopen(true)
	B.reopen(true)
	keys := sinkKeys(t, disk, "quest/")

	rows := rowsByRef(savesJSON[[]saveSlotRow](t, nil, "--config", cfg, "saves", "list"))
	r := rows["quest/tester/main"]
	if r.SaveVersionJSON == nil || r.Conflict || r.Made != "merge" || len(r.Sinks) != 0 || len(r.Parents) != 2 {
		t.Fatalf("a typed-only divergence: %+v", r)
	}
	if out := savesOK(t, nil, "--config", cfg, "saves", "list"); !strings.Contains(out, "merged here*") {
		t.Errorf("list does not mark the merge:\n%s", out)
	}
	show := savesJSON[saveShowJSON](t, nil, "--config", cfg, "saves", "show", "quest/tester/main")
	if c := fieldAt(t, show.Fields, "/coins"); fmt.Sprint(c.Value) != "10" {
		t.Errorf("merged coins %v, want 5+2+3", c.Value)
	}
	if after := sinkKeys(t, disk, "quest/"); !slices.Equal(keys, after) {
		t.Fatalf("a read-only command wrote the merge: %v", after)
	}
	// The games make the same merge.
	A.sync()
	var qa questSave
	va, err := A.st.Load("main", &qa)
	if err != nil || va.ID != r.ID || qa.Coins.Value() != 10 || !qa.Ach.Has("a") || !qa.Ach.Has("b") {
		t.Fatalf("the laptop's merge %s (coins %d, %v), the tool's %s", va.ID, qa.Coins.Value(), err, r.ID)
	}
	if p, _, _ := A.st.Read("main", va.ID); !jsonEqual(p, show.Content) {
		t.Errorf("the laptop's merge %s, the tool showed %s", p, show.Content)
	}
	// restore of the current version writes nothing; of the base, a new
	// version on top of the merge.
	if res := savesJSON[saveWriteJSON](t, nil, "--config", cfg, "saves", "restore", "quest/tester/main", "--version", va.ID, "--yes"); res.Written {
		t.Errorf("restore of the current version wrote %+v", res)
	}
	A.flush()
	res := savesJSON[saveWriteJSON](t, nil, "--config", cfg, "saves", "restore", "quest/tester/main", "--version", base.ID, "--yes")
	if !res.Written || !slices.Equal(res.Version.Parents, []string{va.ID}) {
		t.Errorf("restore over a merge: %+v", res)
	}
	var back questSave
	// The base's plain values come back; counts made since are kept (a
	// restore never un-counts coins).
	if _, ver := freshLoad(t, "quest", "main", "", &back, disk); ver.ID != res.Version.ID || back.Coins.Value() != 10 {
		t.Errorf("after restore: %s coins %d, want 10", ver.ID, back.Coins.Value())
	}
}

// A slot written both encrypted and not (a device that turned encryption
// on): the encrypted lineage is shown, with a warning about the other.
func TestSavesMixedEncryption(t *testing.T) {
	cfg, disk := savesDisk(t)
	p := newDevice(t, "old", "mix", "", disk)
	p.save("x", map[string]string{"v": "plain"}, saves.Meta{})
	e := newDevice(t, "new", "mix", "pw", disk)
	ev := e.save("x", map[string]string{"v": "secret"}, saves.Meta{})
	env := []string{envSavesPassphrase + "=pw"}
	out, errOut, code := runSaves(t, env, "--config", cfg, "saves", "show", "mix/tester/x")
	if code != 0 || !strings.Contains(out, "version "+ev.ID) || !strings.Contains(out, `"v": "secret"`) || !strings.Contains(errOut, "both encrypted and unencrypted") {
		t.Errorf("mixed slot: exit %d\n%s%s", code, out, errOut)
	}
	// Without the passphrase: the plain lineage, and a warning that
	// encrypted versions were left out.
	out, errOut, code = runSaves(t, nil, "--config", cfg, "saves", "show", "mix/tester/x")
	if code != 0 || !strings.Contains(out, `"v": "plain"`) || !strings.Contains(errOut, "--passphrase-file") {
		t.Errorf("mixed slot without the passphrase: exit %d\n%s%s", code, out, errOut)
	}
	// A write is refused while some versions cannot be read.
	if _, errOut, code := runSaves(t, nil, "--config", cfg, "saves", "restore", "mix/tester/x", "--version", ev.ID[:5], "--yes"); code != 1 || !strings.Contains(errOut, "not writing") {
		t.Errorf("restore with unreadable versions: exit %d %s", code, errOut)
	}
}

// A version listed but gone when fetched (a game pruning its own old
// versions meanwhile) is not an error of a read-only command.
func TestSavesVanishedVersion(t *testing.T) {
	_, disk := savesDisk(t)
	d := newDevice(t, "laptop", "quest", "", disk)
	v := d.save("x", map[string]int{"n": 1}, saves.Meta{})
	gone := &vanishing{managedSink: disk, gone: "quest/tester/saves/x/1764614400000.000000-dgone.sav"}
	st, err := saves.Open(saves.Options{Dir: t.TempDir(), Game: "quest", Player: "tester", Poll: -1, Remotes: []saves.Remote{gone}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Sync(context.Background())
	if err == nil || !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("test setup: want a not-found Sync error, got %v", err)
	}
	if err := withoutVanished(err); err != nil {
		t.Errorf("withoutVanished kept %v", err)
	}
	if err := withoutVanished(errors.Join(err, errors.New("saves: listing cloud: down"))); err == nil || !strings.Contains(err.Error(), "listing cloud") {
		t.Errorf("withoutVanished dropped a real error: %v", err)
	}
	if got := st.Slots(); len(got) != 1 || got[0].ID != v.ID {
		t.Errorf("slots: %+v", got)
	}
}

// vanishing lists one key more than the sink holds.
type vanishing struct {
	*managedSink
	gone string
}

func (v *vanishing) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := v.managedSink.List(ctx, prefix, fn); err != nil {
		return err
	}
	return fn(sdk.ObjectInfo{Key: v.gone, Size: 10})
}

// A sink that fails to list: the error names it, and restore writes to
// no sink at all (not even the one that works).
func TestSavesRestoreSinkFails(t *testing.T) {
	plugins := savesPlugins(t)
	rootA, rootB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	local := savesSink(t, "local", "disk", map[string]string{"root": rootA})
	backup := savesSink(t, "backup", "disk", map[string]string{"root": rootB})
	cfg := filepath.Join(t.TempDir(), "two.toml")
	doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\n", plugins)
	for _, s := range []struct{ name, root string }{{"local", rootA}, {"backup", rootB}} {
		doc += fmt.Sprintf("[[sink]]\nname = %q\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n", s.name, s.root)
	}
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDevice(t, "laptop", "quest", "", local, backup)
	v1 := d.save("story", map[string]int{"chapter": 1}, saves.Meta{})
	d.save("story", map[string]int{"chapter": 2}, saves.Meta{})
	// In the backup sink the slot's directory becomes a symbolic link,
	// which the disk plugin refuses to follow.
	dir := filepath.Join(rootB, "quest", "tester", "saves", "story")
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir+".moved", dir); err != nil {
		t.Fatal(err)
	}
	keys := sinkKeys(t, local, "quest/")
	for _, args := range [][]string{
		{"restore", "quest/tester/story", "--version", v1.ID, "--yes"},
		{"show", "quest/tester/story"},
	} {
		out, errOut, code := runSaves(t, nil, append([]string{"--config", cfg, "saves"}, args...)...)
		if code != 1 || !strings.Contains(errOut, "listing backup") || !strings.Contains(errOut, "symbolic link") {
			t.Errorf("%v with a failing sink: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
	}
	if after := sinkKeys(t, local, "quest/"); !slices.Equal(keys, after) {
		t.Errorf("restore wrote to local although backup failed: %v", after)
	}
	// --sink local alone works.
	res := savesJSON[saveWriteJSON](t, nil, "--config", cfg, "saves", "restore", "--sink", "local", "quest/tester/story", "--version", v1.ID, "--yes")
	if !slices.Equal(res.Sinks, []string{"local"}) {
		t.Errorf("restore --sink local: %+v", res)
	}
}

// fakePutter is a sink for the uploader: it fails the first fails Puts
// (for good, when permanent) and keeps what it is given.
type fakePutter struct {
	name      string
	fails     int
	permanent bool
	mu        sync.Mutex
	calls     int
	got       map[string][]byte
}

func (f *fakePutter) Name() string { return f.name }

func (f *fakePutter) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fails {
		if f.permanent {
			return sdk.ObjectInfo{}, sdk.PermanentError("put", key, errors.New("refused for good"))
		}
		return sdk.ObjectInfo{}, sdk.RetryableError("put", key, errors.New("busy"))
	}
	b, _ := io.ReadAll(r)
	if f.got == nil {
		f.got = map[string][]byte{}
	}
	f.got[key] = b
	return sdk.ObjectInfo{Key: key, Size: int64(len(b))}, nil
}

// The uploader of restore and resolve with a real store: each sink gets
// the version once, a sink that is busy is retried, one that refuses for
// good is reported at once with the sinks that did take it, and one that
// stays busy is reported when the wait is over.
func TestSavesUploader(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sinks []*fakePutter
		want  string // "" for success, else in the error
		quick bool
	}{
		{"busy then fine", []*fakePutter{{name: "a"}, {name: "b", fails: 2}}, "", true},
		{"refused", []*fakePutter{{name: "a"}, {name: "b", fails: 1 << 30, permanent: true}}, "written to sink(s) a only: sink b: writing", true},
		{"refused first", []*fakePutter{{name: "a", fails: 1 << 30, permanent: true}, {name: "b"}}, "written to sink(s) b only: sink a: writing", true},
		{"busy for ever", []*fakePutter{{name: "a", fails: 1 << 30}, {name: "b", fails: 1 << 30}}, "written to no sink: sink a: writing", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps []savePutter
			for _, p := range tc.sinks {
				ps = append(ps, p)
			}
			up := newSaveUploader(ps)
			st, err := saves.Open(saves.Options{Dir: t.TempDir(), Game: "g", Player: "p", Poll: -1, Upload: up.put, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			v, err := st.Save("s", []byte("data"), saves.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			key := saves.Prefix("g", "p") + "s/" + v.ID + ".sav"
			start := time.Now()
			wait := 3 * time.Second
			err = up.flush(context.Background(), st, key, wait)
			took := time.Since(start)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range tc.sinks {
					if len(p.got[key]) == 0 || p.calls != p.fails+1 {
						t.Errorf("sink %s: %d calls, has it: %v", p.name, p.calls, len(p.got[key]) > 0)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q in it", err, tc.want)
			}
			if tc.quick && took > wait/2 {
				t.Errorf("a permanent refusal took %v", took)
			}
			if !tc.quick && took < wait {
				t.Errorf("gave up after %v, before the wait of %v", took, wait)
			}
			for _, p := range tc.sinks {
				if p.fails == 0 && p.calls != 1 {
					t.Errorf("sink %s that took it was called %d times", p.name, p.calls)
				}
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
	"github.com/skyloop-engine/skyloop/engine/saves"
	"github.com/skyloop-engine/skyloop/sdk"
)

// TestMain points the data and config directories at a scratch directory,
// so no test here reads the developer's config or saves (a saved record
// would change what the game draws) or leaves data in them. Tests that run
// the engine also pass a config of their own (testConfig).
func TestMain(m *testing.M) {
	flag.Parse()
	scratch, err := os.MkdirTemp("", "breakout-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_DATA_HOME", filepath.Join(scratch, "data"))
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(scratch, "config"))
	os.Unsetenv("SKYLOOP_CONFIG")
	if !testing.Verbose() {
		slog.SetDefault(quietLogger()) // the game's and the engine's log lines
	}
	code := m.Run()
	os.RemoveAll(scratch)
	os.Exit(code)
}

const testPlayer = "tester"

// device is one player's machine in the tests: its own spool and saves
// directories, and a disk sink root that several devices may share.
type device struct {
	name, dir, root string
}

func newDevice(t *testing.T, name, root string) device {
	t.Helper()
	return device{name: name, dir: t.TempDir(), root: root}
}

func (d device) savesDir() string { return filepath.Join(d.dir, "saves") }

// config writes the device's config (capture off: these runs are about
// saves) with the saves poll every poll seconds, and returns its path.
func (d device) config(t *testing.T, poll float64) string {
	t.Helper()
	p := filepath.Join(d.dir, fmt.Sprintf("config-%g.toml", poll))
	doc := fmt.Sprintf(`player = %q
spool_dir = %q
exit_wait_seconds = 10
[capture]
enabled = false
[saves]
dir = %q
device = %q
poll_seconds = %g
[[sink]]
name = "local"
plugin = "disk"
[sink.settings]
root = %q
`, testPlayer, filepath.Join(d.dir, "spool"), d.savesDir(), d.name, poll, d.root)
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// deviceID is the id the device's counter entries are under (its saves
// directory's identity), read through engine/saves.
func (d device) deviceID(t *testing.T) string {
	t.Helper()
	st, err := saves.Open(saves.Options{Dir: d.savesDir(), Game: "breakout", Player: testPlayer, Poll: -1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, _ := st.Device()
	return id
}

// testConfig is a config for a run that must start with no saves: spool,
// saves and sink in a fresh temporary directory.
func testConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	return newDevice(t, "test", filepath.Join(dir, "sink")).config(t, 2)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sinkFiles reads a disk sink straight from its files (the disk plugin
// keeps each object as a plain file at ROOT/KEY, its sidecars hidden as
// .NAME%m), so what was stored is checked without the plugin.
type sinkFiles struct{ root string }

func (s sinkFiles) Name() string { return "files:" + s.root }

func (s sinkFiles) List(_ context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	err := filepath.WalkDir(filepath.Join(s.root, filepath.FromSlash(prefix)), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.Contains(e.Name(), "%") {
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		return fn(sdk.ObjectInfo{Key: filepath.ToSlash(rel), Size: info.Size(), Modified: info.ModTime()})
	})
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

func (s sinkFiles) Get(_ context.Context, key string, w io.Writer, _ sdk.GetOptions) (sdk.ObjectInfo, error) {
	data, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(key)))
	if os.IsNotExist(err) {
		return sdk.ObjectInfo{}, fmt.Errorf("%s: %w", key, sdk.ErrNotFound)
	}
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	_, err = w.Write(data)
	return sdk.ObjectInfo{Key: key, Size: int64(len(data))}, err
}

// put writes an object as the disk plugin would (a plain file at
// ROOT/KEY, here without its sidecar, which the plugin rebuilds on the
// next read): another device's upload, made beside a running game.
func (s sinkFiles) put(_ context.Context, key string, data []byte) error {
	p := filepath.Join(s.root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.root), "put-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// storedRecord is the record as a new device reading the sink at root sees
// it (every version there, merged by engine/saves' rules), and how many
// versions of it the sink holds.
func storedRecord(t *testing.T, root string) (record, int) {
	t.Helper()
	st, err := saves.Open(saves.Options{Dir: t.TempDir(), Game: "breakout", Player: testPlayer, Poll: -1,
		Remotes: []saves.Remote{sinkFiles{root}}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Sync(context.Background()); err != nil {
		t.Fatalf("reading the sink: %v", err)
	}
	if r := st.Refused(); len(r) > 0 {
		t.Fatalf("the sink holds objects that are not save versions: %+v", r)
	}
	var rec record
	if _, err := st.Load(recordSlot, &rec); err != nil {
		t.Fatalf("the sink at %s holds no record: %v", root, err)
	}
	n := 0
	sinkFiles{root}.List(context.Background(), saves.Prefix("breakout", testPlayer)+recordSlot+"/", func(sdk.ObjectInfo) error { n++; return nil })
	return rec, n
}

// played is what a seeded autoplay game does in a number of ticks, seen
// from the wall and the score alone, not from the game's record: the
// reference every count is checked against.
type played struct {
	bricks int64 // bricks that went from standing to broken
	best   int64 // the highest score reached (score only grows within a game)
	clears int   // walls cleared
	overs  int   // games over
}

func replay(t *testing.T, seed int64, ticks int) played {
	t.Helper()
	g := newGame(seed, true)
	in := inputtest.New()
	var p played
	for range ticks {
		before, phase := g.bricks, g.phase
		tick(t, g, in, 1)
		for r := range brickRows {
			for c := range brickCols {
				if before[r][c] && !g.bricks[r][c] {
					p.bricks++
				}
			}
		}
		p.best = max(p.best, int64(g.score))
		if g.phase != phase && g.phase == phaseCleared {
			p.clears++
		}
		if g.phase != phase && g.phase == phaseOver {
			p.overs++
		}
	}
	return p
}

// memSink is an in-memory sink that several stores (devices) upload to
// and read from, for the tests that need no window.
type memSink struct {
	mu   gosync.Mutex
	objs map[string][]byte
}

func (m *memSink) Name() string { return "mem" }

func (m *memSink) put(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objs == nil {
		m.objs = map[string][]byte{}
	}
	m.objs[key] = bytes.Clone(data)
	return nil
}

func (m *memSink) List(_ context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	m.mu.Lock()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m.objs {
			if strings.HasPrefix(k, prefix) && !yield(k) {
				return
			}
		}
	})
	m.mu.Unlock()
	for _, k := range keys {
		if err := fn(sdk.ObjectInfo{Key: k}); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSink) Get(_ context.Context, key string, w io.Writer, _ sdk.GetOptions) (sdk.ObjectInfo, error) {
	m.mu.Lock()
	data, ok := m.objs[key]
	m.mu.Unlock()
	if !ok {
		return sdk.ObjectInfo{}, sdk.ErrNotFound
	}
	_, err := w.Write(data)
	return sdk.ObjectInfo{Key: key, Size: int64(len(data))}, err
}

// memStore opens a device's store on sink (nil: local only), with no
// background poll: the test calls Sync.
func memStore(t *testing.T, sink *memSink) *saves.Store {
	t.Helper()
	o := saves.Options{Dir: t.TempDir(), Game: "breakout", Player: testPlayer, Poll: -1, Logger: quietLogger()}
	if sink != nil {
		o.Remotes, o.Upload = []saves.Remote{sink}, sink.put
	}
	st, err := saves.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// withStore makes g use st as its engine.Saves().
func withStore(g *game, st *saves.Store) *game {
	g.saves = func() *saves.Store { return st }
	return g
}

// loadStored reads the record from st.
func loadStored(t *testing.T, st *saves.Store) record {
	t.Helper()
	var rec record
	if _, err := st.Load(recordSlot, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

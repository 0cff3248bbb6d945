package saves

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

// memRemote is an in-process backend (the sdk's reference memory backend)
// that can be cut off, for fast unit tests; the tests over real plugins
// are in remote_test.go.
type memRemote struct {
	sdk.Backend
	mu      gosync.Mutex
	offline bool
	lists   int
	gets    int
}

func newMemRemote() *memRemote { return &memRemote{Backend: synctest.NewMemoryBackend()} }

func (m *memRemote) Name() string { return "memory" }

func (m *memRemote) down() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.offline {
		return sdk.RetryableError("op", "", errors.New("offline"))
	}
	return nil
}

func (m *memRemote) setOffline(off bool) { m.mu.Lock(); m.offline = off; m.mu.Unlock() }

func (m *memRemote) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := m.down(); err != nil {
		return err
	}
	m.mu.Lock()
	m.lists++
	m.mu.Unlock()
	return m.Backend.List(ctx, prefix, fn)
}

func (m *memRemote) Get(ctx context.Context, key string, w io.Writer, o sdk.GetOptions) (sdk.ObjectInfo, error) {
	if err := m.down(); err != nil {
		return sdk.ObjectInfo{}, err
	}
	m.mu.Lock()
	m.gets++
	m.mu.Unlock()
	return m.Backend.Get(ctx, key, w, o)
}

func (m *memRemote) Delete(ctx context.Context, key string) error {
	if err := m.down(); err != nil {
		return err
	}
	return m.Backend.Delete(ctx, key)
}

func (m *memRemote) upload(ctx context.Context, key string, data []byte) error {
	if err := m.down(); err != nil {
		return err
	}
	_, err := m.Backend.Put(ctx, key, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))})
	return err
}

func (m *memRemote) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	if err := m.Backend.List(context.Background(), prefix, func(o sdk.ObjectInfo) error { out = append(out, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// device opens a store in dir against remote, with no background poll:
// tests call Sync, so the order of events is theirs.
func device(t *testing.T, dir string, remote *memRemote, mod func(*Options)) *Store {
	t.Helper()
	o := Options{Dir: dir, Game: "g", Player: "p", DeviceName: filepath.Base(dir), Poll: -1, Logger: quietLogger()}
	if remote != nil {
		o.Remotes = []Remote{remote}
		o.Upload = remote.upload
	}
	if mod != nil {
		mod(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func flush(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func syncNow(t *testing.T, s *Store) {
	t.Helper()
	flush(t, s)
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
}

// progress is a save struct as a game would write it.
type progress struct {
	HighScore Best
	BestLap   Least
	Coins     Counter
	Achieved  Unlocks
	Name      Value[string]
	Level     int
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := device(t, t.TempDir(), nil, nil)
	var p progress
	p.HighScore.Offer(120)
	p.HighScore.Offer(80)
	p.BestLap.Offer(9000)
	p.BestLap.Offer(8500)
	p.Coins.Add(5)
	p.Achieved.Unlock("first")
	p.Name.Set("ada")
	p.Level = 3
	v, err := s.Save("progress", &p, Meta{Progress: 0.3, PlayTime: 90 * time.Second, Description: "level 3"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Made != "save" || !v.Head || v.Description != "level 3" || v.PlayTime != 90*time.Second || v.Device == "" {
		t.Fatalf("Save returned %+v", v)
	}
	var got progress
	meta, err := s.Load("progress", &got)
	if err != nil {
		t.Fatal(err)
	}
	lap, _ := got.BestLap.Value()
	if got.HighScore.Value() != 120 || lap != 8500 || got.Coins.Value() != 5 || !got.Achieved.Has("first") || got.Name.Get() != "ada" || got.Level != 3 {
		t.Fatalf("loaded %+v", got)
	}
	if meta.ID != v.ID || meta.Progress != 0.3 {
		t.Fatalf("meta %+v", meta)
	}
	// Bytes slots.
	if _, err := s.Save("raw", []byte("\x00\x01binary"), Meta{}); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if _, err := s.Load("raw", &raw); err != nil || string(raw) != "\x00\x01binary" {
		t.Fatalf("raw = %q, %v", raw, err)
	}
	if _, err := s.Load("raw", &got); err == nil || !strings.Contains(err.Error(), "*[]byte") {
		t.Fatalf("loading bytes into a struct: %v", err)
	}
	if _, err := s.Load("missing", &got); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing slot: %v", err)
	}
}

// Everything survives a restart: the versions are on local disk.
func TestSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := device(t, dir, nil, nil)
	var p progress
	p.Coins.Add(7)
	p.HighScore.Offer(42)
	if _, err := s.Save("progress", &p, Meta{}); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	id1, _ := s.Device()
	s.Close()
	s2 := device(t, dir, nil, nil)
	id2, _ := s2.Device()
	var got progress
	if _, err := s2.Load("progress", &got); err != nil || got.Coins.Value() != 7 || got.HighScore.Value() != 42 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if id1 != id2 {
		t.Fatalf("device id changed across a restart: %s → %s (counters would double count)", id1, id2)
	}
	got.Coins.Add(1)
	if _, err := s2.Save("progress", &got, Meta{}); err != nil {
		t.Fatal(err)
	}
	if got.Coins.Value() != 8 || got.Coins.Devices()[id1] != 8 {
		t.Fatalf("counter after a second save: %d %v", got.Coins.Value(), got.Coins.Devices())
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	s := device(t, dir, nil, func(o *Options) { o.MaxSlotBytes = 1000; o.MaxGameBytes = 1500 })
	for _, slot := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("x", 65), "sp ace", "ü"} {
		if _, err := s.Save(slot, []byte("x"), Meta{}); err == nil || !strings.Contains(err.Error(), "slot name") {
			t.Errorf("slot %q: %v, want a slot-name error", slot, err)
		}
	}
	if _, err := s.Save("big", make([]byte, 1001), Meta{}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "per slot") {
		t.Errorf("over the slot limit: %v", err)
	}
	if _, err := s.Save("a", make([]byte, 900), Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save("b", make([]byte, 900), Meta{}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "the game's slots") {
		t.Errorf("over the game limit: %v", err)
	}
	if _, err := s.Save("c", make(chan int), Meta{}); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("unencodable value: %v", err)
	}
	// Nothing already saved was lost.
	var a []byte
	if _, err := s.Load("a", &a); err != nil || len(a) != 900 {
		t.Fatalf("slot a after refused saves: %d bytes, %v", len(a), err)
	}
	flush(t, s)
	s.Close()

	// A corrupt local file is set aside, the others still read.
	files, _ := filepath.Glob(filepath.Join(dir, "g", "p", "v", "a", "*.sav"))
	if _, err := s.Save("x", []byte("y"), Meta{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close: %v", err)
	}
	var logs bytes.Buffer
	os.WriteFile(filepath.Join(dir, "g", "p", "v", "a", "0000000000001.000000-dffffffffff.sav"), []byte("garbage"), 0o644)
	s2 := device(t, dir, nil, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	if _, err := s2.Load("a", &a); err != nil || len(a) != 900 {
		t.Fatalf("after a corrupt file: %d bytes, %v", len(a), err)
	}
	if !strings.Contains(logs.String(), "moved aside") || len(files) != 1 {
		t.Fatalf("corrupt file not reported (%d files): %s", len(files), logs.String())
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "g", "p", "corrupt", "*")); len(aside) != 1 {
		t.Fatalf("corrupt file not kept aside: %v", aside)
	}
	// A second store on the same directory is refused.
	if _, err := Open(Options{Dir: dir, Game: "g", Player: "p", Poll: -1}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second store on one directory: %v", err)
	}
}

// Reloading (as a game does when another device's save arrives) keeps what
// this device did since its last Save.
func TestLoadKeepsUnsavedChanges(t *testing.T) {
	r := newMemRemote()
	a := device(t, t.TempDir(), r, nil)
	b := device(t, t.TempDir(), r, nil)
	var pa progress
	pa.Coins.Add(2)
	a.Save("progress", &pa, Meta{})
	flush(t, a)
	syncNow(t, b)
	var pb progress
	b.Load("progress", &pb)
	pb.Coins.Add(3)
	pb.HighScore.Offer(70)
	pb.Achieved.Unlock("mine")
	pb.Name.Set("b")
	// Meanwhile A saves again; B reloads into its live struct.
	pa.Coins.Add(4)
	pa.HighScore.Offer(50)
	pa.Name.Set("a")
	a.Save("progress", &pa, Meta{})
	flush(t, a)
	syncNow(t, b)
	if _, err := b.Load("progress", &pb); err != nil {
		t.Fatal(err)
	}
	if pb.Coins.Value() != 9 || pb.HighScore.Value() != 70 || !pb.Achieved.Has("mine") || pb.Name.Get() != "b" {
		t.Fatalf("after reload: coins %d (want 2+4 saved by A and 3 unsaved here), best %d (want 70), unlocks %v, name %q (want the unsaved b)",
			pb.Coins.Value(), pb.HighScore.Value(), pb.Achieved.Names(), pb.Name.Get())
	}
	b.Save("progress", &pb, Meta{})
	flush(t, b)
	syncNow(t, a)
	var got progress
	a.Load("progress", &got)
	if got.Coins.Value() != 9 || got.Name.Get() != "b" {
		t.Fatalf("A then reads coins %d name %q", got.Coins.Value(), got.Name.Get())
	}
}

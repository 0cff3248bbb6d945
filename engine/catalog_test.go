package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/engine/spool"
	"github.com/skyloop-engine/skyloop/sdk"
)

// Storage-level tests of the end record's Stored summary and the
// catalog: the spool is real, the sink an in-memory one; no GL.

// memSink is a spool.Sink keeping the last object put under each key.
type memSink struct {
	mu   sync.Mutex
	objs map[string][]byte
	down atomic.Bool // Puts fail retryably, as a store that cannot be reached
}

func newMemSink() *memSink { return &memSink{objs: map[string][]byte{}} }

func (m *memSink) Name() string { return "mem" }

func (m *memSink) Put(ctx context.Context, key string, r io.Reader, _ sdk.PutOptions) (sdk.ObjectInfo, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	if m.down.Load() {
		return sdk.ObjectInfo{}, sdk.RetryableError("put", key, errors.New("connection refused"))
	}
	if err := ctx.Err(); err != nil {
		return sdk.ObjectInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = data
	return sdk.ObjectInfo{Key: key, Size: int64(len(data))}, nil
}

func (m *memSink) get(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objs[key]
}

// listing returns the sizes of the segments stored under prefix, as a
// reader's List shows them.
func (m *memSink) listing(prefix string) []segment.SegmentSize {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []segment.SegmentSize
	for k, v := range m.objs {
		if p, ok := segment.ParseKey(k); ok && p.Prefix() == prefix {
			out = append(out, segment.SegmentSize{Index: p.Index, Size: int64(len(v))})
		}
	}
	slices.SortFunc(out, func(a, b segment.SegmentSize) int { return int(a.Index) - int(b.Index) })
	return out
}

const (
	tGame   = "cat"
	tPlayer = "p1"
	tDevice = "Rig #1" // CatalogDevice: "rig-1"
)

var tCatalogKey = tGame + "/" + tPlayer + "/catalog/rig-1.json"

// testStorage is storage as openStorage makes it, on a real spool in
// dir, with sink.
func testStorage(t *testing.T, dir string, sink spool.Sink, maxBytes int64, logs io.Writer) *storage {
	t.Helper()
	st := &storage{logger: testLogger(logs)}
	sp, err := spool.Open(dir, []spool.Sink{sink}, spool.Options{MaxBytes: maxBytes, Logger: st.logger, ReserveBytes: -1,
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, OnEvict: st.noteEvicted})
	if err != nil {
		t.Fatal(err)
	}
	st.sp = sp
	st.openCatalogs(dir, tGame, tDevice, tPlayer)
	t.Cleanup(func() { sp.Close(context.Background()) }) // idempotent
	return st
}

func closeSpool(t *testing.T, st *storage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func waitDelivered(t *testing.T, st *storage) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for st.sp.Stats().Items > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool still holds %d items", st.sp.Stats().Items)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sampleSession is a session of n segments of 10 frames each (segment i
// holding frames 10i..10i+9, i*1000+100 bytes), captured from start at
// one frame a millisecond.
type sampleSession struct {
	id    string
	start time.Time
	n     int
}

func newSample(id string, n int) sampleSession {
	return sampleSession{id: id, start: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.Local), n: n}
}

func (s sampleSession) prefix() string { return segment.SessionPrefix(tGame, tPlayer, s.id) }

func (s sampleSession) info(i int) (capture.SegmentInfo, []byte) {
	first := uint64(10 * i)
	info := capture.SegmentInfo{Key: segment.Key(s.prefix(), uint64(i)), Index: uint64(i), FirstSeq: first, LastSeq: first + 9, Frames: 10,
		Start: s.start.Add(time.Duration(first) * time.Millisecond), End: s.start.Add(time.Duration(first+9) * time.Millisecond)}
	return info, bytes.Repeat([]byte{byte(i + 1)}, i*1000+100)
}

// record puts the session's segments (skipping those in skip, as if the
// pipeline never handed them over) and an end record as the recorder
// builds it, with lost listed.
func (s sampleSession) record(t *testing.T, st *storage, lost []segment.LostSegment) {
	t.Helper()
	for i := range s.n {
		info, data := s.info(i)
		if err := st.PutSegment(context.Background(), info, data); err != nil {
			t.Fatal(err)
		}
	}
	m := segment.Manifest{Game: tGame, Player: tPlayer, Session: s.id, Start: s.start.UTC(), End: s.start.Add(time.Second).UTC(),
		Width: 64, Height: 48, Segments: uint64(s.n), Sequenced: uint64(10 * s.n), Frames: uint64(10 * s.n), Lost: lost}
	data, err := segment.MarshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutManifest(context.Background(), segment.ManifestKey(s.prefix()), data); err != nil {
		t.Fatal(err)
	}
}

// wantStored is the summary of the sample's segments kept.
func (s sampleSession) wantStored(kept ...int) segment.Stored {
	var w segment.Stored
	var sizes []segment.SegmentSize
	for n, i := range kept {
		info, data := s.info(i)
		w.Segments++
		w.Bytes += int64(len(data))
		w.Frames += 10
		if n == 0 {
			w.FirstSeq, w.FirstFrame = info.FirstSeq, info.Start.UTC()
		}
		w.LastSeq, w.LastFrame = info.LastSeq, info.End.UTC()
		sizes = append(sizes, segment.SegmentSize{Index: uint64(i), Size: int64(len(data))})
	}
	w.Digest = segment.SegmentsDigest(sizes)
	return w
}

// checkSinkCatalog checks the catalog in the sink against the sessions'
// end records there and their listed segments, and returns it.
func checkSinkCatalog(t *testing.T, sink *memSink, sessions ...string) segment.Catalog {
	t.Helper()
	raw := sink.get(tCatalogKey)
	if raw == nil {
		t.Fatalf("no catalog at %s", tCatalogKey)
	}
	cat, err := segment.ParseCatalog(raw)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range cat.Sessions {
		ids = append(ids, e.Manifest.Session)
	}
	if !slices.Equal(ids, sessions) || cat.Game != tGame || cat.Player != tPlayer || cat.Device != "rig-1" {
		t.Fatalf("catalog of %s/%s on %q lists %v, want %s/%s on rig-1 listing %v", cat.Game, cat.Player, cat.Device, ids, tGame, tPlayer, sessions)
	}
	for _, e := range cat.Sessions {
		prefix := segment.SessionPrefix(tGame, tPlayer, e.Manifest.Session)
		stored := sink.get(segment.ManifestKey(prefix))
		again, err := segment.MarshalManifest(e.Manifest)
		if err != nil || !bytes.Equal(again, stored) || e.ManifestSize != int64(len(stored)) {
			t.Fatalf("session %s: catalog entry (size %d) re-marshals to\n%s\nthe sink holds (%d bytes)\n%s", e.Manifest.Session, e.ManifestSize, again, len(stored), stored)
		}
		list := sink.listing(prefix)
		var n uint64
		var b int64
		for _, s := range list {
			n++
			b += s.Size
		}
		if st := e.Manifest.Stored; st.Segments != n || st.Bytes != b || st.Digest != segment.SegmentsDigest(list) {
			t.Fatalf("session %s: stored %+v, the sink lists %d segments, %d bytes, digest %s", e.Manifest.Session, st, n, b, segment.SegmentsDigest(list))
		}
	}
	return cat
}

// The end record's Stored counts the segments kept, not those its Lost
// lists (the first one here: so the first seq and time come from the
// second), and the catalog's entry is the end record as stored.
func TestStoredSummaryExcludesLostSegments(t *testing.T) {
	sink := newMemSink()
	st := testStorage(t, t.TempDir(), sink, 0, io.Discard)
	s := newSample("20260301T120000.000Z-0001", 3)
	s.record(t, st, []segment.LostSegment{{Index: 0, FirstSeq: 0, Frames: 10, Reason: "evicted from the spool over spool_mb"}})
	waitDelivered(t, st)
	m, err := segment.ParseManifest(sink.get(segment.ManifestKey(s.prefix())))
	if err != nil || m.Stored == nil {
		t.Fatalf("end record in the sink: %+v, %v: want a stored summary", m, err)
	}
	// All three reached this sink (the Lost entry is the recorder's
	// say-so); the summary follows the end record.
	want := s.wantStored(1, 2)
	got := *m.Stored
	if !got.FirstFrame.Equal(want.FirstFrame) || !got.LastFrame.Equal(want.LastFrame) {
		t.Fatalf("stored times %v..%v, want %v..%v", got.FirstFrame, got.LastFrame, want.FirstFrame, want.LastFrame)
	}
	got.FirstFrame, got.LastFrame, want.FirstFrame, want.LastFrame = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("stored %+v, want %+v", got, want)
	}
	cat, err := segment.ParseCatalog(sink.get(tCatalogKey))
	if err != nil || len(cat.Sessions) != 1 {
		t.Fatalf("catalog %+v, %v", cat, err)
	}
	if again, _ := segment.MarshalManifest(cat.Sessions[0].Manifest); !bytes.Equal(again, sink.get(segment.ManifestKey(s.prefix()))) {
		t.Fatalf("catalog entry differs from the stored end record")
	}
}

// Segments the spool evicts while the end record and the catalog are
// being accepted (the sink is down, the spool over spool_mb) are listed
// lost and left out of Stored, so the record and the catalog agree with
// what the sink ends up holding.
func TestSegmentsEvictedAtTheEndAreListedLost(t *testing.T) {
	sink := newMemSink()
	sink.down.Store(true)
	s := newSample("20260301T120000.000Z-0002", 3)
	// 100 + 1100 + 2100 bytes of segments fit; the end record and the
	// catalog push the spool over, evicting the oldest segments.
	st := testStorage(t, t.TempDir(), sink, 3300+1000, io.Discard)
	s.record(t, st, nil)
	sink.down.Store(false)
	waitDelivered(t, st)
	m, err := segment.ParseManifest(sink.get(segment.ManifestKey(s.prefix())))
	if err != nil {
		t.Fatal(err)
	}
	list := sink.listing(s.prefix())
	if len(list) == 0 || len(list) == 3 || len(m.Lost) != 3-len(list) {
		t.Fatalf("the sink holds %d of 3 segments, the end record lists %d lost (%+v): want some evicted, not all, each listed", len(list), len(m.Lost), m.Lost)
	}
	for _, l := range m.Lost {
		if !strings.Contains(l.Reason, "spool_mb") || l.Frames != 10 || l.FirstSeq != 10*l.Index {
			t.Errorf("lost %+v", l)
		}
	}
	t.Logf("%d of 3 segments evicted at the end, listed lost", len(m.Lost))
	checkSinkCatalog(t, sink, s.id)
}

// The catalog keeps the sessions of earlier runs (the local copy in the
// spool directory), and a corrupt or unreadable local copy is reported
// by name and replaced by a new catalog.
func TestLocalCatalogAcrossRuns(t *testing.T) {
	a, b, c := newSample("20260301T120000.000Z-000a", 1), newSample("20260301T120000.000Z-000b", 2), newSample("20260301T120000.000Z-000c", 1)
	local := func(dir string) string { return filepath.Join(dir, "catalog", tPlayer, "rig-1.json") }

	t.Run("kept", func(t *testing.T) {
		dir, sink := t.TempDir(), newMemSink()
		st := testStorage(t, dir, sink, 0, io.Discard)
		b.record(t, st, nil)
		a.record(t, st, nil) // entries are by session id, whatever the order they ended in
		waitDelivered(t, st)
		closeSpool(t, st)
		st = testStorage(t, dir, sink, 0, io.Discard)
		c.record(t, st, nil)
		waitDelivered(t, st)
		checkSinkCatalog(t, sink, a.id, b.id, c.id)
		if l, _ := os.ReadFile(local(dir)); !bytes.Equal(l, sink.get(tCatalogKey)) {
			t.Fatalf("local catalog %s differs from the sink's:\n%s", local(dir), l)
		}
	})

	other, _ := segment.MarshalCatalog(segment.Catalog{Game: tGame, Player: "someone-else", Device: "rig-1"})
	badEntry, _ := json.Marshal(map[string]any{"version": 1, "game": tGame, "player": tPlayer, "device": "rig-1",
		"sessions": []any{map[string]any{"manifest": map[string]any{"version": 1, "game": tGame, "player": tPlayer, "session": "x"}}}})
	for _, tc := range []struct {
		name  string
		plant func(path string) error
	}{
		{"not json", func(p string) error { return os.WriteFile(p, []byte("{\"version\":1,\"sess"), 0o644) }},
		{"another player's", func(p string) error { return os.WriteFile(p, other, 0o644) }},
		{"an entry without a stored summary", func(p string) error { return os.WriteFile(p, badEntry, 0o644) }},
		{"newer version", func(p string) error { return os.WriteFile(p, []byte(`{"version":99}`), 0o644) }},
		{"unreadable", func(p string) error { return os.Mkdir(p, 0o755) }}, // a directory: read fails even as root
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, sink := t.TempDir(), newMemSink()
			st := testStorage(t, dir, sink, 0, io.Discard)
			a.record(t, st, nil)
			waitDelivered(t, st)
			closeSpool(t, st)
			if err := os.Remove(local(dir)); err != nil {
				t.Fatal(err)
			}
			if err := tc.plant(local(dir)); err != nil {
				t.Fatal(err)
			}
			var logs enginetest.LogBuffer
			st = testStorage(t, dir, sink, 0, &logs)
			if out := logs.String(); !strings.Contains(out, "local session catalog unusable") || !strings.Contains(out, local(dir)) {
				t.Fatalf("opening the storage did not warn naming %s:\n%s", local(dir), out)
			}
			b.record(t, st, nil)
			waitDelivered(t, st)
			// A new catalog: b only (a is still in the sink, read the slow way).
			checkSinkCatalog(t, sink, b.id)
			if tc.name == "unreadable" {
				if !strings.Contains(logs.String(), "local session catalog not written") {
					t.Fatalf("no warning that the local catalog could not be written:\n%s", logs.String())
				}
				return
			}
			if l, _ := os.ReadFile(local(dir)); !bytes.Equal(l, sink.get(tCatalogKey)) {
				t.Fatalf("the local catalog was not replaced by the new one:\n%s", l)
			}
		})
	}
}

// The device name comes from the config through segment.CatalogDevice;
// with none configured it is the host name.
func TestCatalogDeviceName(t *testing.T) {
	host, _ := os.Hostname()
	if deviceName("") != host || deviceName("Living Room") != "Living Room" {
		t.Fatalf("deviceName: %q %q", deviceName(""), deviceName("Living Room"))
	}
	c := newCatalogs(t.TempDir(), "g", "Living Room", testLogger(io.Discard))
	if k := c.key("p"); k != "g/p/catalog/living-room.json" {
		t.Fatalf("key %s", k)
	}
}

// catalogBytesPerSession measures the catalog of n sample sessions of 20
// segments each, with lost segments each, as the engine writes it.
func catalogBytesPerSession(t testing.TB, n, lost int) float64 {
	cat := segment.Catalog{Game: tGame, Player: tPlayer, Device: segment.CatalogDevice(tDevice), Updated: time.Now().UTC()}
	for i := range n {
		s := newSample(fmt.Sprintf("20260301T%06d.000Z-%04x", i, i), 20)
		segs := map[uint64]storedSegment{}
		for j := range s.n {
			info, d := s.info(j)
			segs[uint64(j)] = storedSegment{info: info, size: int64(len(d))}
		}
		var ls []segment.LostSegment
		for j := range lost {
			ls = append(ls, segment.LostSegment{Index: uint64(j), FirstSeq: uint64(10 * j), Frames: 10, Reason: "evicted from the spool over spool_mb"})
		}
		m := segment.Manifest{Game: tGame, Player: tPlayer, Session: s.id, Start: s.start.UTC(), End: s.start.Add(time.Minute).UTC(),
			Width: 1280, Height: 720, Segments: 20, Sequenced: 200, Frames: 200, Lost: ls, Stored: storedSummary(segs, ls)}
		rec, err := segment.MarshalManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		m, _ = segment.ParseManifest(rec)
		cat.Sessions = append(cat.Sessions, segment.CatalogEntry{Manifest: m, ManifestSize: int64(len(rec))})
	}
	data, err := segment.MarshalCatalog(cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := segment.ParseCatalog(data); err != nil {
		t.Fatal(err)
	}
	return float64(len(data)) / float64(n)
}

// The size docs/segment-format.md gives for a catalog.
func TestCatalogSize(t *testing.T) {
	per := catalogBytesPerSession(t, 1000, 0)
	perLost := catalogBytesPerSession(t, 1000, 1) - per
	t.Logf("catalog of 1000 sessions: %.0f bytes a session, %.0f KiB in all; %.0f bytes more per lost segment", per, per*1000/1024, perLost)
	if per > 600 || perLost > 120 {
		t.Errorf("%.0f bytes a session, %.0f per lost segment: docs/segment-format.md says at most 600 and 120", per, perLost)
	}
}

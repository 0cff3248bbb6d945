package recordings

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

// endSession stores a session's segments (nil: not stored, lost) and an
// end record whose Stored summary describes what was stored, as the
// engine's storage writes it; it returns the catalog entry for it.
func endSession(t *testing.T, st sdk.Backend, game, player, id string, segs [][]uint64, sequenced, dropped uint64) segment.CatalogEntry {
	t.Helper()
	ctx := context.Background()
	putSession(t, st, game, player, id, segs)
	prefix := segment.SessionPrefix(game, player, id)
	start := startOf(id)
	stored := &segment.Stored{}
	var sizes []segment.SegmentSize
	var frames uint64
	var lost []segment.LostSegment
	for i, seqs := range segs {
		frames += uint64(len(seqs))
		if seqs == nil {
			continue
		}
		info, err := st.Stat(ctx, segment.Key(prefix, uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, segment.SegmentSize{Index: uint64(i), Size: info.Size})
		if stored.Frames == 0 {
			stored.FirstSeq, stored.FirstFrame = seqs[0], start.Add(time.Duration(seqs[0])*time.Second/60)
		}
		last := seqs[len(seqs)-1]
		stored.LastSeq, stored.LastFrame = last, start.Add(time.Duration(last)*time.Second/60)
		stored.Frames += uint64(len(seqs))
		stored.Segments++
		stored.Bytes += info.Size
	}
	for i, seqs := range segs {
		if seqs == nil {
			// A lost segment between stored ones: the frames between them.
			var first, n uint64
			if i > 0 && segs[i-1] != nil {
				first = segs[i-1][len(segs[i-1])-1] + 1
			}
			if i+1 < len(segs) && segs[i+1] != nil {
				n = segs[i+1][0] - first
			}
			lost = append(lost, segment.LostSegment{Index: uint64(i), FirstSeq: first, Frames: n, Reason: "no room in the spool"})
			frames += n
		}
	}
	stored.Digest = segment.SegmentsDigest(sizes)
	m := segment.Manifest{Game: game, Player: player, Session: id, Start: start, End: start.Add(time.Minute),
		Width: testW, Height: testH, Segments: uint64(len(segs)), Sequenced: sequenced, Frames: frames, Dropped: dropped, Lost: lost, Stored: stored}
	b, err := segment.MarshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, segment.ManifestKey(prefix), bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))}); err != nil {
		t.Fatal(err)
	}
	m.Version = segment.ManifestVersion
	return segment.CatalogEntry{Manifest: m, ManifestSize: int64(len(b))}
}

func putCatalog(t *testing.T, st sdk.Backend, game, player, device string, entries ...segment.CatalogEntry) {
	t.Helper()
	b, err := segment.MarshalCatalog(segment.Catalog{Game: game, Player: player, Device: device, Updated: start, Sessions: entries})
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, st, segment.CatalogKey(game, player, device), b)
}

func putObject(t *testing.T, st sdk.Backend, key string, b []byte) {
	t.Helper()
	if _, err := st.Put(context.Background(), key, bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))}); err != nil {
		t.Fatal(err)
	}
}

func rowJSON(t *testing.T, r Row) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func describeAll(t *testing.T, st Store, now time.Time) map[string]Row {
	t.Helper()
	ctx := context.Background()
	ss, err := List(ctx, st, "local", "")
	if err != nil {
		t.Fatal(err)
	}
	d := NewDescriber(st, now)
	out := map[string]Row{}
	for _, s := range ss {
		r, err := d.Describe(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		out[s.ID] = r
	}
	return out
}

// A row made from the catalog, or from the end record, is the row the
// session's segments give: the fast paths describe sessions exactly as the
// slow one does.
func TestDescribeFromCatalogEqualsSummary(t *testing.T) {
	ctx := context.Background()
	mem := synctest.NewMemoryBackend()
	a, b, c := newID(start), newID(start.Add(time.Hour)), newID(start.Add(2*time.Hour))
	ea := endSession(t, mem, "g", "p", a, [][]uint64{seqRange(0, 9), seqRange(10, 19), seqRange(20, 24)}, 25, 0)
	// Frames 5 and 13 dropped by the game, and 30 never captured after.
	eb := endSession(t, mem, "g", "p", b, [][]uint64{{0, 1, 2, 3, 4, 6}, {7, 8, 9, 10, 11, 12, 14}}, 15, 2)
	// Segment 1 lost (the spool was full): frames 10-19.
	ec := endSession(t, mem, "g", "p", c, [][]uint64{seqRange(0, 9), nil, seqRange(20, 29)}, 30, 0)
	putCatalog(t, mem, "g", "p", "laptop", ea, eb, ec)

	ss, err := List(ctx, mem, "local", "")
	if err != nil || len(ss) != 3 {
		t.Fatalf("%d sessions, %v", len(ss), err)
	}
	now := start.Add(3 * time.Hour)
	// The slow path, the end record path (no catalog), the catalog path.
	noCatalog := synctest.NewMemoryBackend()
	mem.List(ctx, "", func(o sdk.ObjectInfo) error {
		if _, _, _, isCat := segment.ParseCatalogKey(o.Key); !isCat {
			var buf bytes.Buffer
			mem.Get(ctx, o.Key, &buf, sdk.GetOptions{})
			putObject(t, noCatalog, o.Key, buf.Bytes())
		}
		return nil
	})
	d := NewDescriber(mem, now)
	dm := NewDescriber(noCatalog, now)
	ssm, _ := List(ctx, noCatalog, "local", "")
	for i, s := range ss {
		sum, err := s.Summarize(ctx, mem)
		if err != nil {
			t.Fatal(err)
		}
		slow := d.NewRow(s, sum)
		fromCatalog, ok, err := d.Row(ctx, s)
		if err != nil || !ok {
			t.Fatalf("%s: catalog row: ok %v, %v", s.ID, ok, err)
		}
		fromManifest, ok, err := dm.Row(ctx, ssm[i])
		if err != nil || !ok {
			t.Fatalf("%s: end record row: ok %v, %v", s.ID, ok, err)
		}
		if rowJSON(t, slow) != rowJSON(t, fromCatalog) || rowJSON(t, slow) != rowJSON(t, fromManifest) {
			t.Errorf("%s:\nsummary %s\ncatalog %s\nmanifest %s", s.ID, rowJSON(t, slow), rowJSON(t, fromCatalog), rowJSON(t, fromManifest))
		}
		if slow.Frames == 0 || slow.Duration == 0 || !slow.Ended || slow.Live {
			t.Errorf("%s: implausible row %+v", s.ID, slow)
		}
	}
}

// The catalog and the end record are trusted only while the listing agrees
// with them: a session changed since (a segment cut short, removed or
// replaced, the end record replaced) is read, and its damage found.
func TestDescribeDistrustsWhatChanged(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(t *testing.T, st sdk.Backend, prefix string)
		damage bool // the listing must find damage
	}{
		{"segment cut short", func(t *testing.T, st sdk.Backend, prefix string) {
			var buf bytes.Buffer
			st.Get(ctx, segment.Key(prefix, 1), &buf, sdk.GetOptions{})
			putObject(t, st, segment.Key(prefix, 1), buf.Bytes()[:buf.Len()-20])
		}, true},
		{"segment deleted", func(t *testing.T, st sdk.Backend, prefix string) {
			st.Delete(ctx, segment.Key(prefix, 2))
		}, true},
		{"segment renumbered", func(t *testing.T, st sdk.Backend, prefix string) {
			copyObject(t, st, segment.Key(prefix, 2), segment.Key(prefix, 3))
			st.Delete(ctx, segment.Key(prefix, 2))
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := synctest.NewMemoryBackend()
			id := newID(start.Add(5 * time.Hour))
			e := endSession(t, mem, "g", "p", id, [][]uint64{seqRange(0, 9), seqRange(10, 19), seqRange(20, 29)}, 30, 0)
			putCatalog(t, mem, "g", "p", "laptop", e)
			tc.change(t, mem, segment.SessionPrefix("g", "p", id))
			ss, _ := List(ctx, mem, "local", "")
			d := NewDescriber(mem, start)
			if _, ok, err := d.Row(ctx, ss[0]); ok || err != nil {
				t.Fatalf("a changed session was described from its catalog entry or end record (ok %v, %v)", ok, err)
			}
			r, err := d.Describe(ctx, ss[0])
			if err != nil {
				t.Fatal(err)
			}
			if tc.damage != (r.DamageFound() || r.Problems > 0) {
				t.Fatalf("row %+v: damage found %v, want %v", r, r.DamageFound(), tc.damage)
			}
		})
	}
}

// An end record replaced since the catalog was written is read, and the
// row follows it, not the catalog.
func TestDescribeReadsAReplacedEndRecord(t *testing.T) {
	ctx := context.Background()
	mem := synctest.NewMemoryBackend()
	id := newID(start.Add(9 * time.Hour))
	e := endSession(t, mem, "g", "p", id, [][]uint64{seqRange(0, 9)}, 10, 0)
	putCatalog(t, mem, "g", "p", "laptop", e)
	m := e.Manifest
	m.Sequenced = 14 // 4 more frames captured and dropped
	m.Dropped = 4
	b, err := segment.MarshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, mem, segment.ManifestKey(segment.SessionPrefix("g", "p", id)), b)
	ss, _ := List(ctx, mem, "local", "")
	r, ok, err := NewDescriber(mem, start).Row(ctx, ss[0])
	if err != nil || !ok || r.GapFrames != 4 {
		t.Fatalf("row %+v ok %v err %v: want the 4 gap frames of the new end record", r, ok, err)
	}
}

// Catalogs that cannot be used are ignored, and their sessions described
// from their end records: a corrupt one, one of another player stored
// under this player's name, a newer version.
func TestDescribeIgnoresUnusableCatalogs(t *testing.T) {
	mem := synctest.NewMemoryBackend()
	id := newID(start.Add(6 * time.Hour))
	e := endSession(t, mem, "g", "p", id, [][]uint64{seqRange(0, 9)}, 10, 0)
	// A catalog that lies about the session: twice the frames.
	lie := e
	lieStored := *e.Manifest.Stored
	lieStored.Frames, lie.Manifest.Frames = 20, 20
	lie.Manifest.Sequenced = 20
	lie.Manifest.Stored = &lieStored
	b, _ := segment.MarshalCatalog(segment.Catalog{Game: "g", Player: "q", Sessions: []segment.CatalogEntry{
		func() segment.CatalogEntry { x := lie; x.Manifest.Player = "q"; return x }()}})
	putObject(t, mem, segment.CatalogKey("g", "p", "other-player"), b) // says player q
	putObject(t, mem, segment.CatalogKey("g", "p", "corrupt"), []byte(`{"version":1,"sessions":[{`))
	putObject(t, mem, segment.CatalogKey("g", "p", "future"), []byte(`{"version":99,"game":"g","player":"p","sessions":[]}`))
	rows := describeAll(t, mem, start)
	if r := rows[id]; r.Frames != 10 || !r.Ended {
		t.Fatalf("row %+v: want the 10 frames the end record and segments say", r)
	}
}

// A session without an end record is LIVE while it is being written to,
// and "not ended" once it has been silent for longer than LiveWindow.
func TestLiveSessions(t *testing.T) {
	mem := synctest.NewMemoryBackend()
	id := newID(start.Add(7 * time.Hour))
	putSession(t, mem, "g", "p", id, [][]uint64{seqRange(0, 9), seqRange(10, 19)})
	ended := newID(start.Add(8 * time.Hour))
	endSession(t, mem, "g", "p", ended, [][]uint64{seqRange(0, 9)}, 10, 0)
	now := time.Now()
	rows := describeAll(t, mem, now)
	if r := rows[id]; !r.Live || r.Ended || r.Frames != 20 {
		t.Fatalf("a session written to just now: %+v, want live with 20 frames", r)
	}
	if r := rows[ended]; r.Live || !r.Ended {
		t.Fatalf("an ended session: %+v, want ended and not live", r)
	}
	rows = describeAll(t, mem, now.Add(LiveWindow+time.Second))
	if r := rows[id]; r.Live || r.Ended {
		t.Fatalf("a session silent for longer than %s: %+v, want not live and not ended", LiveWindow, r)
	}
}

// Listing 1,000 ended sessions and a live one costs one List, one Get per
// catalog and the live session's reads: the same as listing 10.
func TestListingRequestsDoNotGrowWithEndedSessions(t *testing.T) {
	requests := func(n int) (lists, gets int64) {
		mem := synctest.NewMemoryBackend()
		var entries []segment.CatalogEntry
		for i := range n {
			id := newID(start.Add(time.Duration(i) * time.Minute))
			entries = append(entries, endSession(t, mem, "g", "p", id, [][]uint64{{0, 1}, {2, 3}, {4}}, 5, 0))
		}
		putCatalog(t, mem, "g", "p", "laptop", entries...)
		live := newID(start.Add(time.Duration(n+1) * time.Minute))
		putSession(t, mem, "g", "p", live, [][]uint64{{0, 1}, {2, 3}, {4}})
		c := &countingStore{Backend: mem}
		rows := describeAll(t, c, time.Now())
		if len(rows) != n+1 || !rows[live].Live {
			t.Fatalf("%d rows, live session %+v", len(rows), rows[live])
		}
		for id, r := range rows {
			if id != live && (!r.Ended || r.Frames != 5) {
				t.Fatalf("%s: %+v", id, r)
			}
		}
		return c.lists, c.gets
	}
	l10, g10 := requests(10)
	l1000, g1000 := requests(1000)
	t.Logf("10 ended sessions: %d List, %d Get; 1000: %d List, %d Get", l10, g10, l1000, g1000)
	if l1000 != l10 || g1000 != g10 || g1000 > 1+3*3 {
		t.Fatalf("listing 1000 ended sessions took %d Lists and %d Gets, 10 took %d and %d: requests must not grow with ended sessions", l1000, g1000, l10, g10)
	}
}

// An instant-replay clip is marked as one, from the catalog, the end
// record and the summary alike.
func TestDescribeReplayClip(t *testing.T) {
	ctx := context.Background()
	mem := synctest.NewMemoryBackend()
	id := newID(start.Add(10 * time.Hour))
	e := endSession(t, mem, "g", "p", id, [][]uint64{seqRange(0, 9)}, 10, 0)
	e.Manifest.Replay = true
	b, err := segment.MarshalManifest(e.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, mem, segment.ManifestKey(segment.SessionPrefix("g", "p", id)), b)
	e.ManifestSize = int64(len(b))
	putCatalog(t, mem, "g", "p", "laptop", e)
	ss, _ := List(ctx, mem, "local", "")
	d := NewDescriber(mem, start)
	fast, ok, err := d.Row(ctx, ss[0])
	if err != nil || !ok || !fast.Replay {
		t.Fatalf("catalog row %+v ok %v err %v: want a replay clip", fast, ok, err)
	}
	sum, err := ss[0].Summarize(ctx, mem)
	if err != nil {
		t.Fatal(err)
	}
	if slow := d.NewRow(ss[0], sum); rowJSON(t, slow) != rowJSON(t, fast) {
		t.Fatalf("summary row %s, catalog row %s", rowJSON(t, slow), rowJSON(t, fast))
	}
}

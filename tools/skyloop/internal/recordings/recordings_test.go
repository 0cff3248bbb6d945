package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

const testW, testH = 16, 8

// pixelsOf is frame seq's content: every byte derived from seq, so a frame
// decoded for the wrong seq is caught.
func pixelsOf(seq uint64) []byte {
	p := make([]byte, testW*testH*4)
	for i := range p {
		p[i] = byte(uint64(i/4)*7 + seq*13)
		if i%4 == 3 {
			p[i] = 255
		}
	}
	return p
}

var start = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// starts are the session starts of the ids made by newID: the segments of
// a session carry its start, from which the engine makes its id.
var starts = map[string]time.Time{}

// newID is the id the engine gives a session started at t.
func newID(t time.Time) string {
	id := segment.NewSessionID(t)
	starts[id] = t
	return id
}

// startOf is the session start the segments of id carry: the one newID
// made it from, else the package's start.
func startOf(id string) time.Time {
	if t, ok := starts[id]; ok {
		return t
	}
	return start
}

// putSession stores segments of the given frame seqs (one slice per
// segment index; nil: the segment is not stored).
func putSession(t *testing.T, st sdk.Backend, game, player, id string, segs [][]uint64) {
	t.Helper()
	putFrames(t, st, game, player, id, segs, testW, testH, pixelsOf)
}

func putFrames(t *testing.T, st sdk.Backend, game, player, id string, segs [][]uint64, testW, testH int, pixelsOf func(uint64) []byte) {
	t.Helper()
	prefix := segment.SessionPrefix(game, player, id)
	start := startOf(id)
	for i, seqs := range segs {
		if seqs == nil {
			continue
		}
		var buf bytes.Buffer
		w, err := segment.NewWriter(&buf, segment.Header{Width: testW, Height: testH, Codec: segment.CodecZstd, KeyInterval: 4, Segment: uint64(i), FirstSeq: seqs[0], SessionStart: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range seqs {
			if err := w.WriteFrame(q, start.Add(time.Duration(q)*time.Second/60), pixelsOf(q)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Put(context.Background(), segment.Key(prefix, uint64(i)), bytes.NewReader(buf.Bytes()), sdk.PutOptions{Size: int64(buf.Len())}); err != nil {
			t.Fatal(err)
		}
	}
}

// putManifest stores the session's end record.
func putManifest(t *testing.T, st sdk.Backend, game, player, id string, segments, sequenced, frames, dropped uint64) {
	t.Helper()
	start := startOf(id)
	b, err := segment.MarshalManifest(segment.Manifest{Game: game, Player: player, Session: id, Start: start, End: start.Add(time.Minute),
		Width: testW, Height: testH, Segments: segments, Sequenced: sequenced, Frames: frames, Dropped: dropped})
	if err != nil {
		t.Fatal(err)
	}
	key := segment.ManifestKey(segment.SessionPrefix(game, player, id))
	if _, err := st.Put(context.Background(), key, bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))}); err != nil {
		t.Fatal(err)
	}
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for q := from; q <= to; q++ {
		s = append(s, q)
	}
	return s
}

func TestListFindSummarize(t *testing.T) {
	ctx := context.Background()
	st := synctest.NewMemoryBackend()
	id1, id2, id3 := newID(start), newID(start.Add(time.Hour)), newID(start.Add(time.Millisecond))
	putSession(t, st, "breakout", "alice", id1, [][]uint64{seqRange(0, 9), seqRange(10, 19)})
	putManifest(t, st, "breakout", "alice", id1, 2, 20, 20, 0)
	// Frames 5-6 dropped, segment 1 lost, frames 30-39 in segment 2.
	putSession(t, st, "breakout", "alice", id2, [][]uint64{{0, 1, 2, 3, 4, 7, 8, 9}, nil, seqRange(30, 39)})
	putSession(t, st, "arena", "bob", id3, [][]uint64{seqRange(0, 3)})
	// Not segment keys: ignored.
	for _, k := range []string{"breakout/alice/saves/slot1", "breakout/alice/sessions/x/notes.txt"} {
		if _, err := st.Put(ctx, k, strings.NewReader("x"), sdk.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	ss, err := List(ctx, st, "local", "")
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, s := range ss {
		refs = append(refs, s.Ref())
	}
	if got := strings.Join(refs, " "); got != "arena/bob/"+id3+" breakout/alice/"+id1+" breakout/alice/"+id2 {
		t.Fatalf("sessions %s", got)
	}
	if only, _ := List(ctx, st, "local", "arena/"); len(only) != 1 {
		t.Fatalf("prefix arena/: %d sessions", len(only))
	}

	if _, err := Find(ss, "20261124T12"); err == nil || !strings.Contains(err.Error(), "matches 2 sessions") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := Find(ss, "nothing"); !errors.Is(err, ErrNoSession) {
		t.Errorf("unknown: %v", err)
	}
	s, err := Find(ss, "breakout/alice/20261124T13")
	if err != nil || s.ID != id2 {
		t.Fatalf("Find: %v %v", s, err)
	}

	sum, err := s.Summarize(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Frames != 18 || sum.Width != testW || sum.Height != testH || sum.LastSeq != 39 || !sum.SessionStart.Equal(start.Add(time.Hour)) {
		t.Fatalf("summary %+v", sum)
	}
	if len(sum.Gaps) != 2 || !sameGap(sum.Gaps[0], 5, 6, KindDropped) || !sameGap(sum.Gaps[1], 10, 29, KindMissing) || sum.GapFrames() != 22 {
		t.Fatalf("gaps %v", sum.Gaps)
	}
	if !strings.Contains(sum.Gaps[1].Detail, "segment 1 (00000001.seg) is not in the sink") || sum.Gaps[1].Segment != segment.Key(s.Prefix(), 1) {
		t.Fatalf("gap 10-29: %+v", sum.Gaps[1])
	}
	if len(sum.MissingSegments) != 1 || sum.MissingSegments[0] != 1 || len(sum.Problems) != 0 {
		t.Fatalf("missing %v problems %v", sum.MissingSegments, sum.Problems)
	}
	if d := sum.Duration(); d != 39*time.Second/60 {
		t.Fatalf("duration %v", d)
	}

	rep, err := Verify(ctx, st, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Complete() || rep.Frames != 18 || len(rep.Gaps) != 2 || len(rep.MissingSegments) != 1 || len(rep.Problems) != 0 {
		t.Fatalf("verify %+v", rep)
	}
	whole, err := Find(ss, "breakout/alice/20261124T12")
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(ctx, st, whole, nil); err != nil || !rep.Complete() || rep.Frames != 20 || rep.LastSeq != 19 {
		t.Fatalf("verify complete session: %+v %v", rep, err)
	}
	// Without its manifest the same frames are intact but not known complete.
	if err := st.Delete(ctx, segment.ManifestKey(segment.SessionPrefix("breakout", "alice", whole.ID))); err != nil {
		t.Fatal(err)
	}
	ss, _ = List(ctx, st, "local", "breakout/")
	whole, _ = Find(ss, whole.Ref())
	if rep, err := Verify(ctx, st, whole, nil); err != nil || rep.Manifest != nil || !rep.Intact() || rep.Complete() {
		t.Fatalf("a session without a manifest: %+v %v", rep, err)
	}
}

// The manifest tells a session that lost its last segment from a shorter
// one, and which of the gap frames were dropped while recording.
func TestManifestFindsALostEnd(t *testing.T) {
	ctx := context.Background()
	st := synctest.NewMemoryBackend()
	// Segments 0-2 were written (frames 0-29, 4 and 5 dropped while
	// recording); segment 2 never arrived.
	putSession(t, st, "g", "p", "s", [][]uint64{{0, 1, 2, 3, 6, 7, 8, 9}, seqRange(10, 19)})
	putManifest(t, st, "g", "p", "s", 3, 30, 28, 2)
	ss, err := List(ctx, st, "local", "")
	if err != nil || len(ss) != 1 || ss[0].Manifest.Key == "" {
		t.Fatalf("List: %v %+v", err, ss)
	}
	sum, err := ss[0].Summarize(ctx, st)
	if err != nil || !sum.Ended() || len(sum.MissingSegments) != 1 || sum.MissingSegments[0] != 2 || sum.GapFrames() != 12 {
		t.Fatalf("summary: %v ended %v missing %v gaps %v", err, sum.Ended(), sum.MissingSegments, sum.Gaps)
	}
	rep, err := Verify(ctx, st, ss[0], nil)
	if err != nil || rep.Complete() || rep.LastSeq != 29 || len(rep.MissingSegments) != 1 || rep.DroppedWhileRecording() != 2 ||
		len(rep.Gaps) != 2 || !sameGap(rep.Gaps[0], 4, 5, KindDropped) || !sameGap(rep.Gaps[1], 20, 29, KindMissing) {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	// A manifest naming another session is a problem, not a vouch.
	st2 := synctest.NewMemoryBackend()
	putSession(t, st2, "g", "p", "s", [][]uint64{seqRange(0, 9)})
	b, _ := segment.MarshalManifest(segment.Manifest{Game: "g", Player: "p", Session: "other", Segments: 1, Sequenced: 10, Frames: 10})
	st2.Put(ctx, segment.ManifestKey(segment.SessionPrefix("g", "p", "s")), bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))})
	ss, _ = List(ctx, st2, "local", "")
	if rep, err := Verify(ctx, st2, ss[0], nil); err != nil || rep.Complete() || rep.Manifest != nil || len(rep.Problems) != 1 {
		t.Fatalf("foreign manifest: %v %+v", err, rep)
	}
}

func sameGap(g Gap, from, to uint64, kind Kind) bool {
	return g.From == from && g.To == to && g.Kind == kind
}

// countingStore counts Lists, Gets and the bytes Gets return (not safe
// for concurrent use: the tests list and describe one session at a time).
type countingStore struct {
	sdk.Backend
	lists, gets int64
	bytes       int64
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	c.lists++
	return c.Backend.List(ctx, prefix, fn)
}

func (c *countingStore) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	c.gets++
	cw := &countWriter{w: w}
	info, err := c.Backend.Get(ctx, key, cw, opts)
	c.bytes += cw.n
	return info, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.w.Write(p) }

// A summary reads headers and indexes, not frames: for a segment much
// larger than a block it fetches a few blocks.
func TestSummarizeReadsLittle(t *testing.T) {
	ctx := context.Background()
	mem := synctest.NewMemoryBackend()
	// Noise does not compress: 30 frames of 128 KiB.
	noise := func(seq uint64) []byte {
		p := make([]byte, 256*128*4)
		r := rand.New(rand.NewPCG(seq, 1))
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return p
	}
	putFrames(t, mem, "g", "p", "s", [][]uint64{seqRange(0, 29)}, 256, 128, noise)
	st := &countingStore{Backend: mem}
	ss, _ := List(ctx, st, "local", "")
	sum, err := ss[0].Summarize(ctx, st)
	if err != nil || sum.Frames != 30 {
		t.Fatalf("%v %+v", err, sum.Frames)
	}
	if st.bytes > 3*blockSize || st.gets > 3 {
		t.Fatalf("summary fetched %d bytes in %d Gets of a %d-byte segment", st.bytes, st.gets, ss[0].Bytes)
	}
}

func TestFrameReader(t *testing.T) {
	ctx := context.Background()
	st := synctest.NewMemoryBackend()
	putSession(t, st, "g", "p", "s", [][]uint64{seqRange(0, 9), {10, 11, 14, 15}})
	ss, _ := List(ctx, st, "local", "")
	sum, err := ss[0].Summarize(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	fr := NewFrameReader(st, ss[0], sum)
	defer fr.Close()
	// Forward, backward, across segments, and back again.
	for _, q := range []uint64{0, 1, 2, 9, 3, 10, 15, 14, 0, 11} {
		f, err := fr.Frame(ctx, q)
		if err != nil {
			t.Fatalf("frame %d: %v", q, err)
		}
		if f.Seq != q || !bytes.Equal(f.Image.Pix, pixelsOf(q)) {
			t.Fatalf("frame %d: got seq %d, pixels equal %v", q, f.Seq, bytes.Equal(f.Image.Pix, pixelsOf(q)))
		}
	}
	for _, q := range []uint64{12, 13, 16, 1000} {
		if _, err := fr.Frame(ctx, q); !errors.Is(err, ErrNoFrame) {
			t.Errorf("frame %d: %v, want ErrNoFrame", q, err)
		}
	}
	var got []uint64
	err = fr.Each(ctx, 8, 14, func(f segment.Frame) error {
		if !bytes.Equal(f.Image.Pix, pixelsOf(f.Seq)) {
			t.Errorf("Each: frame %d pixels differ", f.Seq)
		}
		got = append(got, f.Seq)
		return nil
	})
	if err != nil || len(got) != 5 || got[0] != 8 || got[4] != 14 {
		t.Fatalf("Each 8-14: %v %v", got, err)
	}
}

// A store that fails is an error, not "damage".
type failingStore struct{ sdk.Backend }

func (failingStore) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	return sdk.ObjectInfo{}, errors.New("connection refused")
}

func TestStoreErrorsAreErrors(t *testing.T) {
	ctx := context.Background()
	mem := synctest.NewMemoryBackend()
	putSession(t, mem, "g", "p", "s", [][]uint64{seqRange(0, 3)})
	ss, _ := List(ctx, mem, "local", "")
	if _, err := ss[0].Summarize(ctx, failingStore{mem}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Summarize over a failing store: %v", err)
	}
	if _, err := Verify(ctx, failingStore{mem}, ss[0], nil); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Verify over a failing store: %v", err)
	}
}

// Segments of another session, under another number, or out of order are
// not the session's: their frames are gaps of that kind, whether the id
// names the start (as the engine's do) or not (then the end record's start,
// else the start most segments carry, is the reference).
func TestSegmentsMustBelong(t *testing.T) {
	ctx := context.Background()
	other := start.Add(time.Minute)
	for _, tc := range []struct {
		name, id string
		manifest bool
	}{{"EngineID", newID(start), false}, {"OtherIDWithEndRecord", "s1", true}, {"OtherIDByMajority", "s2", false}} {
		t.Run(tc.name, func(t *testing.T) {
			st := synctest.NewMemoryBackend()
			putSession(t, st, "g", "p", tc.id, [][]uint64{seqRange(0, 9), nil, seqRange(20, 29), seqRange(30, 39)})
			// Segment 1: another session's segment 1 (same numbers).
			starts["foreign"] = other
			putSession(t, st, "g", "p", "foreign", [][]uint64{seqRange(0, 9), seqRange(10, 19)})
			copyObject(t, st, segment.Key(segment.SessionPrefix("g", "p", "foreign"), 1), segment.Key(segment.SessionPrefix("g", "p", tc.id), 1))
			if tc.manifest {
				putManifest(t, st, "g", "p", tc.id, 4, 40, 40, 0)
			}
			ss, _ := List(ctx, st, "local", "")
			s, err := Find(ss, "g/p/"+tc.id)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := s.Summarize(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Frames != 30 || len(sum.Gaps) != 1 || !sameGap(sum.Gaps[0], 10, 19, KindForeign) || !strings.HasSuffix(sum.Gaps[0].Segment, "/00000001.seg") ||
				!slices.Equal(sum.DamageKinds(), []Kind{KindForeign}) {
				t.Fatalf("summary: %d frames, gaps %+v, damage %v", sum.Frames, sum.Gaps, sum.DamageKinds())
			}
			rep, err := Verify(ctx, st, s, nil)
			if err != nil || rep.Frames != 30 || len(rep.Gaps) != 1 || !sameGap(rep.Gaps[0], 10, 19, KindForeign) || len(rep.Problems) != 1 || rep.Problems[0].Kind != KindForeign {
				t.Fatalf("verify: %v %+v", err, rep)
			}
		})
	}
	t.Run("Misnumbered", func(t *testing.T) {
		st := synctest.NewMemoryBackend()
		id := newID(start)
		putSession(t, st, "g", "p", id, [][]uint64{seqRange(0, 9), seqRange(10, 19), seqRange(20, 29)})
		prefix := segment.SessionPrefix("g", "p", id)
		copyObject(t, st, segment.Key(prefix, 0), segment.Key(prefix, 2)) // header says 0
		putManifest(t, st, "g", "p", id, 3, 30, 30, 0)
		ss, _ := List(ctx, st, "local", "")
		rep, err := Verify(ctx, st, ss[0], nil)
		if err != nil || rep.Frames != 20 || len(rep.Gaps) != 1 || !sameGap(rep.Gaps[0], 20, 29, KindMisnumbered) {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}

func copyObject(t *testing.T, st sdk.Backend, from, to string) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := st.Get(context.Background(), from, &buf, sdk.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), to, bytes.NewReader(buf.Bytes()), sdk.PutOptions{Size: int64(buf.Len())}); err != nil {
		t.Fatal(err)
	}
}

// A frame whose payload fails its CRC is a *Damage from the FrameReader,
// and so are the delta frames decoded from it, up to the next key frame;
// Walk goes on past them, and GapsWith turns them into a crc gap.
func TestFrameReaderDamage(t *testing.T) {
	ctx := context.Background()
	st := synctest.NewMemoryBackend()
	id := newID(start)
	putSession(t, st, "g", "p", id, [][]uint64{seqRange(0, 9)}) // key frames 0, 4, 8 (KeyInterval 4)
	key := segment.Key(segment.SessionPrefix("g", "p", id), 0)
	var buf bytes.Buffer
	st.Get(ctx, key, &buf, sdk.GetOptions{})
	data := buf.Bytes()
	r, err := segment.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	e := r.Index()[5] // frame 5, a delta of key frame 4
	data[e.Offset+36] ^= 1
	st.Put(ctx, key, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))})
	ss, _ := List(ctx, st, "local", "")
	sum, err := ss[0].Summarize(ctx, st)
	if err != nil || sum.Frames != 10 || len(sum.Gaps) != 0 {
		t.Fatalf("a listing does not read payloads: %v %d frames, gaps %v", err, sum.Frames, sum.Gaps)
	}
	fr := NewFrameReader(st, ss[0], sum)
	defer fr.Close()
	var intact []uint64
	var damaged []uint64
	err = fr.Walk(ctx, 0, 9, func(f segment.Frame, damage error) error {
		var d *Damage
		switch {
		case damage == nil:
			if !bytes.Equal(f.Image.Pix, pixelsOf(f.Seq)) {
				t.Errorf("frame %d: pixels differ", f.Seq)
			}
			intact = append(intact, f.Seq)
		case errors.As(damage, &d) && d.Kind == KindCRC && d.Seq == f.Seq && f.Image == nil:
			damaged = append(damaged, f.Seq)
		default:
			t.Errorf("frame %d: damage %v", f.Seq, damage)
		}
		return nil
	})
	if err != nil || !slices.Equal(intact, []uint64{0, 1, 2, 3, 4, 8, 9}) || !slices.Equal(damaged, []uint64{5, 6, 7}) {
		t.Fatalf("Walk: intact %v, damaged %v, %v", intact, damaged, err)
	}
	if _, err := fr.Frame(ctx, 6); !strings.Contains(fmt.Sprint(err), "decoded from frame 5 before it, which is damaged") {
		t.Fatalf("frame 6: %v", err)
	}
	if gaps := sum.GapsWith(fr.Damaged()); len(gaps) != 1 || !sameGap(gaps[0], 5, 7, KindCRC) || !strings.Contains(gaps[0].Detail, "payload CRC32C") {
		t.Fatalf("gaps with the damage: %+v", gaps)
	}
	if err := fr.Each(ctx, 0, 9, func(segment.Frame) error { return nil }); !errors.As(err, new(*Damage)) {
		t.Fatalf("Each stops at damage: %v", err)
	}
}

// Segments the end record lists as lost (the spool's disk was full) are
// gaps of kind lost with the record's reason, not missing segments or
// damage; a segment absent without being listed is still missing.
func TestLostSegmentsAreGapsWithTheirReason(t *testing.T) {
	ctx := context.Background()
	st := synctest.NewMemoryBackend()
	// Segments 0-4 of 10 frames; 1 and 2 were lost, 4 went missing.
	putSession(t, st, "g", "p", "s", [][]uint64{seqRange(0, 9), nil, nil, seqRange(30, 39)})
	start := startOf("s")
	why := "evicted from the spool: the disk was full"
	b, err := segment.MarshalManifest(segment.Manifest{Game: "g", Player: "p", Session: "s", Start: start, End: start.Add(time.Minute),
		Width: testW, Height: testH, Segments: 5, Sequenced: 50, Frames: 50,
		Lost: []segment.LostSegment{{Index: 1, FirstSeq: 10, Frames: 10, Reason: why}, {Index: 2, FirstSeq: 20, Frames: 10, Reason: why}}})
	if err != nil {
		t.Fatal(err)
	}
	st.Put(ctx, segment.ManifestKey(segment.SessionPrefix("g", "p", "s")), bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))})
	ss, err := List(ctx, st, "local", "")
	if err != nil || len(ss) != 1 {
		t.Fatalf("List: %v %+v", err, ss)
	}
	rep, err := Verify(ctx, st, ss[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Gaps) != 2 || !sameGap(rep.Gaps[0], 10, 29, KindLost) || !sameGap(rep.Gaps[1], 40, 49, KindMissing) {
		t.Fatalf("gaps %+v: want 10-29 lost and 40-49 missing", rep.Gaps)
	}
	if !strings.Contains(rep.Gaps[0].Detail, why) {
		t.Errorf("lost gap detail %q lacks the end record's reason", rep.Gaps[0].Detail)
	}
	if len(rep.MissingSegments) != 1 || rep.MissingSegments[0] != 4 {
		t.Errorf("missing segments %v, want only 4 (1 and 2 are accounted for)", rep.MissingSegments)
	}
	if kinds := DamageKinds(rep.Problems, rep.Gaps); slices.Contains(kinds, KindLost) {
		t.Errorf("damage kinds %v: a listed loss is not damage", kinds)
	}
	if rep.Complete() {
		t.Error("a session with lost frames verified complete")
	}
}

// A session without its end record whose last segment ends early is what a
// killed game leaves: verify reports the cut, not damage, and the frames
// before it vouch for the session (Intact); with an end record the same
// cut is damage.
func TestCutShortLastSegmentOfAKilledGame(t *testing.T) {
	ctx := context.Background()
	for _, ended := range []bool{false, true} {
		st := synctest.NewMemoryBackend()
		putSession(t, st, "g", "p", "s", [][]uint64{seqRange(0, 9), seqRange(10, 19)})
		key := segment.Key(segment.SessionPrefix("g", "p", "s"), 1)
		var buf bytes.Buffer
		if _, err := st.Get(ctx, key, &buf, sdk.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		cut := buf.Bytes()[:buf.Len()*6/10]
		st.Put(ctx, key, bytes.NewReader(cut), sdk.PutOptions{Size: int64(len(cut))})
		if ended {
			putManifest(t, st, "g", "p", "s", 2, 20, 20, 0)
		}
		ss, err := List(ctx, st, "local", "")
		if err != nil || len(ss) != 1 {
			t.Fatalf("List: %v", err)
		}
		sum, err := ss[0].Summarize(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if kinds := sum.DamageKinds(); ended == (len(kinds) == 0) || (!ended && sum.CutShort == nil) {
			t.Errorf("ended %v: listing says damage %v, cut %v; want damage only with an end record", ended, kinds, sum.CutShort)
		}
		rep, err := Verify(ctx, st, ss[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !ended && (rep.CutShort == nil || len(rep.Problems) != 0 || !rep.Intact() || rep.Frames < 10 || rep.Frames >= 20):
			t.Errorf("unended session with its last segment cut: CutShort %v problems %v intact %v frames %d; want the cut noted, no damage, the frames before it", rep.CutShort, rep.Problems, rep.Intact(), rep.Frames)
		case ended && (rep.CutShort != nil || len(rep.Problems) == 0 || rep.Problems[0].Kind != KindTruncated):
			t.Errorf("ended session with a cut segment: CutShort %v problems %v; want truncation damage", rep.CutShort, rep.Problems)
		}
	}
}

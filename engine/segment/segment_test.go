package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var codecs = []Codec{CodecZstd, CodecS2}

func TestRoundTrip(t *testing.T) {
	const w, h, k = 64, 48, 6
	scenes := []struct {
		name  string
		scene func(w, h, i int) []byte
	}{
		{"static", staticScene},
		{"busy", busyScene},
		{"moving", movingRects},
	}
	for _, codec := range append(codecs, CodecRaw) {
		for _, sc := range scenes {
			t.Run(codec.String()+"/"+sc.name, func(t *testing.T) {
				fs := makeFrames(w, h, 20, 1000, sc.scene)
				hdr := Header{Width: w, Height: h, KeyInterval: k, Codec: codec, Segment: 7, FirstSeq: 1000, SessionStart: t0.Add(-time.Hour)}
				data := writeSegment(t, hdr, fs)
				r, err := NewReader(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				if r.Truncated() || r.Len() != len(fs) {
					t.Fatalf("Truncated %v, Len %d", r.Truncated(), r.Len())
				}
				got := r.Header()
				want := hdr.withDefaults()
				if got.SessionStart.Equal(want.SessionStart) {
					got.SessionStart = want.SessionStart
				}
				if got != want {
					t.Fatalf("header %+v, want %+v", got, want)
				}
				run := 0
				for i, want := range fs {
					f, err := r.Next()
					if err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
					checkFrame(t, f, want, w, h)
					if i == 0 && !f.Key {
						t.Fatal("first frame is not a key frame")
					}
					if f.Key {
						run = 1
					} else {
						run++
					}
					if run > k {
						t.Fatalf("frame %d: %d records since the last key frame, key interval %d", i, run, k)
					}
					if sc.name == "static" && codec != CodecRaw {
						// Few pixels change: every frame that is not forced
						// to be key is a delta, and much smaller than a key.
						if wantKey := i%k == 0; f.Key != wantKey {
							t.Fatalf("frame %d: key %v, want %v", i, f.Key, wantKey)
						}
						if !f.Key {
							kf, err := EncodeFrame(nil, want.pix, nil, codec, true)
							if err != nil {
								t.Fatal(err)
							}
							if f.Size-minCompactRecordHeader >= len(kf.Payload)/2 {
								t.Fatalf("frame %d: delta record %d bytes, key payload %d", i, f.Size, len(kf.Payload))
							}
						}
					}
					if codec == CodecRaw && (!f.Key || f.Codec != CodecRaw) {
						t.Fatalf("frame %d: raw codec gave key=%v codec=%v", i, f.Key, f.Codec)
					}
				}
				if _, err := r.Next(); err != io.EOF {
					t.Fatalf("after the last frame: %v, want io.EOF", err)
				}
				if _, err := r.Next(); err != io.EOF {
					t.Fatalf("again after the last frame: %v, want io.EOF", err)
				}
				// The index agrees with the frames.
				idx := r.Index()
				for i, e := range idx {
					if e.Seq != fs[i].seq || !e.Time.Equal(fs[i].t) {
						t.Fatalf("index %d: %+v", i, e)
					}
				}
				// Decode gives the same.
				frames, err := Decode(data)
				if err != nil || len(frames) != len(fs) {
					t.Fatalf("Decode: %d frames, %v", len(frames), err)
				}
				for i := range frames {
					checkFrame(t, frames[i], fs[i], w, h)
				}
			})
		}
	}
}

func TestDeltaChosenWhenFewPixelsChange(t *testing.T) {
	const w, h = 320, 240
	prev, cur := staticScene(w, h, 0), staticScene(w, h, 1)
	for _, codec := range codecs {
		key, err := EncodeFrame(nil, cur, nil, codec, false)
		if err != nil {
			t.Fatal(err)
		}
		delta, err := EncodeFrame(nil, cur, prev, codec, false)
		if err != nil {
			t.Fatal(err)
		}
		if !key.Key || delta.Key || delta.Codec != codec {
			t.Fatalf("%s: key.Key=%v delta.Key=%v delta.Codec=%v", codec, key.Key, delta.Key, delta.Codec)
		}
		if len(delta.Payload)*10 > len(key.Payload) {
			t.Fatalf("%s: delta %d bytes is not much smaller than key %d bytes", codec, len(delta.Payload), len(key.Payload))
		}
		t.Logf("%s %dx%d: key %d bytes, delta %d bytes", codec, w, h, len(key.Payload), len(delta.Payload))

		// Most pixels change: the heuristic's choice is about as small as
		// the best of both, a delta for the fading gradient and a key frame
		// for the scrolling camera.
		for _, sc := range []struct {
			name    string
			scene   func(w, h, i int) []byte
			wantKey bool
		}{{"busy", busyScene, false}, {"scroll", scrollScene, true}} {
			p, c := sc.scene(w, h, 0), sc.scene(w, h, 1)
			auto, err := EncodeFrame(nil, c, p, codec, false)
			if err != nil {
				t.Fatal(err)
			}
			both, err := encodeFrame(nil, c, p, codec, false, strategyBoth)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s: auto key=%v %d bytes; best of both key=%v %d bytes", codec, sc.name, auto.Key, len(auto.Payload), both.Key, len(both.Payload))
			if auto.Key != sc.wantKey || len(auto.Payload) > len(both.Payload)*115/100 {
				t.Fatalf("%s %s: heuristic chose key=%v, %d bytes; best %d bytes", codec, sc.name, auto.Key, len(auto.Payload), len(both.Payload))
			}
		}
		// forceKey wins over everything.
		fk, err := EncodeFrame(nil, cur, prev, codec, true)
		if err != nil || !fk.Key {
			t.Fatalf("forceKey: key=%v err=%v", fk.Key, err)
		}
	}
}

// TestEncodeFramePaths runs every branch of the key-or-delta choice on a
// frame big enough to be judged on a sample, and checks the result decodes
// exactly.
func TestEncodeFramePaths(t *testing.T) {
	const w, h = 512, 512
	base := staticScene(w, h, 0)
	// Changes only between the sample stripes: the sample sees nothing,
	// the delta turns out large and is compared with the key.
	hidden := bytes.Clone(base)
	n := len(base)
	stripe, step := n/(sampleFrac*sampleStripes)&^7, n/sampleStripes
	junk := noise(w, h, 5)
	for i := range sampleStripes {
		lo := i*step + (step-stripe)/2
		copy(hidden[i*step:lo], junk[i*step:lo])
		copy(hidden[lo+stripe:(i+1)*step], junk[lo+stripe:(i+1)*step])
	}
	pairs := []struct {
		name       string
		prev, cur  []byte
		wantDelta  bool
		checkDelta bool
		wantBest   bool // the heuristic ends up compressing both
	}{
		{"few-changed", base, staticScene(w, h, 1), true, true, false},
		{"busy", busyScene(w, h, 0), busyScene(w, h, 1), false, false, false},
		{"scroll", scrollScene(w, h, 0), scrollScene(w, h, 1), false, false, false},
		{"hidden-changes", base, hidden, false, false, true},
		{"identical", base, base, true, true, false},
	}
	for _, codec := range codecs {
		for _, p := range pairs {
			var buf bytes.Buffer
			sw, err := NewWriter(&buf, Header{Width: w, Height: h})
			if err != nil {
				t.Fatal(err)
			}
			k, err := EncodeFrame(nil, p.prev, nil, codec, false)
			if err != nil {
				t.Fatal(err)
			}
			f, err := EncodeFrame(nil, p.cur, p.prev, codec, false)
			if err != nil {
				t.Fatal(err)
			}
			if p.checkDelta && f.Key == p.wantDelta {
				t.Errorf("%s %s: key=%v", codec, p.name, f.Key)
			}
			if p.wantBest {
				best, err := encodeFrame(nil, p.cur, p.prev, codec, false, strategyBoth)
				if err != nil {
					t.Fatal(err)
				}
				// auto may beat "both": it compresses sparse deltas harder.
				if f.Key != best.Key || len(f.Payload) > len(best.Payload) {
					t.Errorf("%s %s: key=%v %d bytes, best key=%v %d bytes", codec, p.name, f.Key, len(f.Payload), best.Key, len(best.Payload))
				}
			}
			k.Seq, f.Seq = 1, 2
			if err := sw.WriteEncoded(k); err != nil {
				t.Fatal(err)
			}
			if err := sw.WriteEncoded(f); err != nil {
				t.Fatal(err)
			}
			sw.Close()
			frames, err := Decode(buf.Bytes())
			if err != nil || len(frames) != 2 {
				t.Fatalf("%s %s: %d frames, %v", codec, p.name, len(frames), err)
			}
			checkFrame(t, frames[0], testFrame{seq: 1, pix: p.prev}, w, h)
			checkFrame(t, frames[1], testFrame{seq: 2, pix: p.cur}, w, h)
		}
	}
}

func TestIncompressibleStoredRaw(t *testing.T) {
	const w, h = 32, 32
	fs := []testFrame{{seq: 1, t: t0, pix: noise(w, h, 1)}, {seq: 2, t: t0, pix: noise(w, h, 2)}}
	for _, codec := range codecs {
		f, err := EncodeFrame(nil, fs[1].pix, fs[0].pix, codec, false)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Key || f.Codec != CodecRaw || !bytes.Equal(f.Payload, fs[1].pix) {
			t.Fatalf("%s: noise encoded as key=%v codec=%v len=%d", codec, f.Key, f.Codec, len(f.Payload))
		}
		data := writeSegment(t, Header{Width: w, Height: h, Codec: codec}, fs)
		frames, err := Decode(data)
		if err != nil || len(frames) != 2 {
			t.Fatalf("Decode: %d frames, %v", len(frames), err)
		}
		for i := range frames {
			checkFrame(t, frames[i], fs[i], w, h)
		}
	}
}

func TestSeqGapsPreserved(t *testing.T) {
	const w, h = 16, 16
	seqs := []uint64{100, 101, 105, 106, 107, 200, 201, 1 << 40}
	var fs []testFrame
	for i, s := range seqs {
		fs = append(fs, testFrame{seq: s, t: t0.Add(time.Duration(s) * time.Millisecond), pix: movingRects(w, h, i)})
	}
	for _, codec := range codecs {
		data := writeSegment(t, Header{Width: w, Height: h, Codec: codec, KeyInterval: 3, FirstSeq: 90}, fs)
		frames, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) != len(fs) {
			t.Fatalf("%d frames, want %d", len(frames), len(fs))
		}
		for i := range frames {
			checkFrame(t, frames[i], fs[i], w, h)
		}
		// The same from a scan (no index).
		frames, err = Decode(data[:len(data)-1])
		if !errors.Is(err, ErrTruncated) || len(frames) != len(fs) {
			t.Fatalf("scan: %d frames, %v", len(frames), err)
		}
		for i := range frames {
			checkFrame(t, frames[i], fs[i], w, h)
		}
	}
}

// completeRecords counts the records of a segment that lie entirely in its
// first cut bytes.
func completeRecords(idx []IndexEntry, cut int) int {
	n := 0
	for _, e := range idx {
		if e.Offset+e.Size <= int64(cut) {
			n++
		}
	}
	return n
}

func TestTruncatedAtEveryOffset(t *testing.T) {
	const w, h = 16, 16
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			fs := makeFrames(w, h, 10, 5, movingRects)
			fs[6].pix = busyScene(w, h, 6) // one natural key frame
			data := writeSegment(t, Header{Width: w, Height: h, Codec: codec, KeyInterval: 4, FirstSeq: 5}, fs)
			full, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			idx := full.Index()
			for cut := 0; cut <= len(data); cut++ {
				part := data[:cut]
				r, err := NewReader(bytes.NewReader(part), int64(cut))
				if cut < headerSize {
					if !errors.Is(err, ErrTruncated) {
						t.Fatalf("cut %d: NewReader: %v, want ErrTruncated", cut, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("cut %d: NewReader: %v", cut, err)
				}
				want := completeRecords(idx, cut)
				if cut == len(data) {
					want = len(fs)
				}
				if r.Truncated() != (cut != len(data)) {
					t.Fatalf("cut %d of %d: Truncated() = %v", cut, len(data), r.Truncated())
				}
				if r.Len() != want {
					t.Fatalf("cut %d: Len %d, want %d", cut, r.Len(), want)
				}
				frames, err := Decode(part)
				if len(frames) != want {
					t.Fatalf("cut %d: %d frames, want %d (err %v)", cut, len(frames), want, err)
				}
				for i := range frames {
					checkFrame(t, frames[i], fs[i], w, h)
				}
				if cut == len(data) {
					if err != nil {
						t.Fatal(err)
					}
				} else if !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut %d: err %v, want ErrTruncated", cut, err)
				}
			}
		})
	}
}

// damageCases are the segments the damage tests run on: version 1, and
// versions 2 and 3 (36-byte and compact record headers) with frames of
// several tiles of which few change (so that records are tiled deltas
// between the key frames).
var damageCases = []struct {
	version uint16
	w, h    int
	scene   func(w, h, i int) []byte
}{{1, 16, 16, movingRects}, {2, 70, 40, staticScene}, {3, 70, 40, staticScene}}

func TestCorruptPayloadDetected(t *testing.T) {
	const k = 4
	for _, dc := range damageCases {
		w, h := dc.w, dc.h
		fs := makeFrames(w, h, 10, 0, dc.scene)
		for _, codec := range codecs {
			data := writeSegment(t, Header{Version: dc.version, Width: w, Height: h, Codec: codec, KeyInterval: k}, fs)
			r0, _ := NewReader(bytes.NewReader(data), int64(len(data)))
			idx := r0.Index()
			if idx[2].Key || !idx[4].Key {
				t.Fatalf("expected record 2 delta and record 4 key: %+v", idx)
			}
			for _, trailer := range []bool{true, false} {
				bad := bytes.Clone(data)
				hs := recordHeaderLen(t, data, idx[2].Offset)
				at := idx[2].Offset + hs + (idx[2].Size-hs)/2
				bad[at] ^= 0x10
				if !trailer {
					bad = bad[:len(bad)-3] // force the forward scan
				}
				r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
				if err != nil {
					t.Fatal(err)
				}
				for i := range fs {
					f, err := r.Next()
					switch {
					case i == 2:
						var fe *FormatError
						if !errors.Is(err, ErrCorrupt) || !errors.As(err, &fe) {
							t.Fatalf("record 2: %v, want ErrCorrupt", err)
						}
						if fe.Record != 2 || fe.Seq != 2 || fe.Offset != idx[2].Offset+hs || !strings.Contains(err.Error(), "payload CRC32C") {
							t.Fatalf("record 2: unhelpful error %q (%+v)", err, fe)
						}
						t.Logf("flipped payload byte: %v", err)
					case i == 3:
						if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "reference") {
							t.Fatalf("record 3 (delta after damage): %v", err)
						}
					default:
						if err != nil {
							t.Fatalf("record %d: %v", i, err)
						}
						checkFrame(t, f, fs[i], w, h)
					}
				}
				_, err = r.Next()
				if trailer && err != io.EOF || !trailer && !errors.Is(err, ErrTruncated) {
					t.Fatalf("trailer %v: at the end: %v", trailer, err)
				}
			}
		}
	}
}

func TestCorruptRecordHeaderResync(t *testing.T) {
	const k = 4
	for _, dc := range damageCases {
		w, h := dc.w, dc.h
		fs := makeFrames(w, h, 10, 0, dc.scene)
		data := writeSegment(t, Header{Version: dc.version, Width: w, Height: h, Codec: CodecZstd, KeyInterval: k}, fs)
		r0, _ := NewReader(bytes.NewReader(data), int64(len(data)))
		idx := r0.Index()
		for _, trailer := range []bool{true, false} {
			bad := bytes.Clone(data)
			bad[idx[5].Offset+24] ^= 0xff // record 5's payload length
			if !trailer {
				bad = bad[:idx[len(idx)-1].Offset+idx[len(idx)-1].Size+5] // cut inside the index
			}
			r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
			if err != nil {
				t.Fatal(err)
			}
			if r.Truncated() == trailer {
				t.Fatalf("Truncated %v with trailer %v", r.Truncated(), trailer)
			}
			var got []uint64
			var errs []error
			for range 100 {
				f, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				checkFrame(t, f, fs[f.Seq], w, h)
				got = append(got, f.Seq)
			}
			// 5 is damaged, 6 and 7 are deltas without a reference, 8 is a key.
			if want := []uint64{0, 1, 2, 3, 4, 8, 9}; !equal(got, want) {
				t.Fatalf("trailer %v: decoded seqs %v, want %v (errors %v)", trailer, got, want, errs)
			}
			wantErrs := 3
			if !trailer {
				wantErrs = 4 // and the damaged index at the end
			}
			if len(errs) != wantErrs {
				t.Fatalf("trailer %v: errors %v", trailer, errs)
			}
			for _, err := range errs[:3] {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v does not wrap ErrCorrupt", err)
				}
			}
			t.Logf("trailer %v: %v", trailer, errs[0])
		}
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEveryByteFlipDetected flips each byte of a small segment in turn: the
// damage must always be reported, every frame still returned must be
// exact, and nothing may panic.
func TestEveryByteFlipDetected(t *testing.T) {
	const w, h = 8, 8
	fs := makeFrames(w, h, 6, 3, movingRects)
	for _, codec := range codecs {
		data := writeSegment(t, Header{Width: w, Height: h, Codec: codec, KeyInterval: 3, FirstSeq: 3}, fs)
		for i := range data {
			for _, mask := range []byte{0x01, 0x80} {
				bad := bytes.Clone(data)
				bad[i] ^= mask
				r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
				if err != nil {
					continue // header damage: reported
				}
				nerr := 0
				for range 100 {
					f, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
							t.Fatalf("byte %d: error %v wraps neither ErrCorrupt nor ErrTruncated", i, err)
						}
						nerr++
						continue
					}
					checkFrame(t, f, fs[f.Seq-3], w, h)
				}
				if nerr == 0 {
					t.Fatalf("%s: flipping bit %#x of byte %d went unnoticed", codec, mask, i)
				}
			}
		}
	}
}

func TestSeekFrame(t *testing.T) {
	const w, h, k = 24, 16, 4
	var fs []testFrame
	seq := uint64(50)
	for i := range 14 {
		seq += 1 + uint64(i%3/2) // some gaps
		fs = append(fs, testFrame{seq: seq, t: t0.Add(time.Duration(i) * time.Second), pix: movingRects(w, h, i)})
	}
	for _, codec := range codecs {
		data := writeSegment(t, Header{Width: w, Height: h, Codec: codec, KeyInterval: k, FirstSeq: 50}, fs)
		for _, cut := range []int{len(data), len(data) - 1} { // index, then scan
			r, err := NewReader(bytes.NewReader(data[:cut]), int64(cut))
			if err != nil {
				t.Fatal(err)
			}
			idx := r.Index()
			if err := r.SeekFrame(fs[0].seq - 1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("seek before the first frame: %v", err)
			}
			for target := fs[0].seq; target <= fs[len(fs)-1].seq+2; target++ {
				wantKey := -1
				for i, e := range idx {
					if e.Seq <= target && e.Key {
						wantKey = i
					}
				}
				if err := r.SeekFrame(target); err != nil {
					t.Fatal(err)
				}
				f, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !f.Key || f.Seq != idx[wantKey].Seq {
					t.Fatalf("seek %d: landed on seq %d key %v, want key seq %d", target, f.Seq, f.Key, idx[wantKey].Seq)
				}
				checkFrame(t, f, fs[wantKey], w, h)
				for i := wantKey + 1; i < len(fs) && fs[i].seq <= target; i++ {
					f, err := r.Next()
					if err != nil {
						t.Fatal(err)
					}
					checkFrame(t, f, fs[i], w, h)
				}
				// ReadFrame finds exactly the frames present.
				var present *testFrame
				for i := range fs {
					if fs[i].seq == target {
						present = &fs[i]
					}
				}
				f, err = r.ReadFrame(target)
				if present == nil {
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("ReadFrame(%d) of a missing frame: %v", target, err)
					}
				} else {
					if err != nil {
						t.Fatalf("ReadFrame(%d): %v", target, err)
					}
					checkFrame(t, f, *present, w, h)
				}
			}
		}
	}
}

func TestConcurrentEncodeThenWrite(t *testing.T) {
	const w, h, k = 96, 64, 5
	fs := makeFrames(w, h, 23, 1, func(w, h, i int) []byte {
		if i%7 < 4 {
			return staticScene(w, h, i)
		}
		return busyScene(w, h, i)
	})
	for _, codec := range codecs {
		enc := make([]EncodedFrame, len(fs))
		var wg sync.WaitGroup
		errs := make(chan error, len(fs))
		sem := make(chan struct{}, 4)
		for i := range fs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				var prev []byte
				if i > 0 {
					prev = fs[i-1].pix
				}
				f, err := EncodeFrame(nil, fs[i].pix, prev, codec, i%k == 0)
				if err != nil {
					errs <- err
					return
				}
				f.Seq, f.Time = fs[i].seq, fs[i].t
				enc[i] = f
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		sw, err := NewWriter(&buf, Header{Width: w, Height: h, KeyInterval: k, Codec: codec, FirstSeq: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range enc {
			if sw.NextKey() && !f.Key {
				t.Fatalf("frame %d: writer wants a key frame", i)
			}
			if err := sw.WriteEncoded(f); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
		frames, err := Decode(buf.Bytes())
		if err != nil || len(frames) != len(fs) {
			t.Fatalf("%d frames, %v", len(frames), err)
		}
		for i := range frames {
			checkFrame(t, frames[i], fs[i], w, h)
		}
	}
}

func TestWriterValidation(t *testing.T) {
	const w, h = 8, 4
	pix := movingRects(w, h, 0)
	for _, bad := range []Header{
		{Width: 0, Height: 4},
		{Width: MaxDimension + 1, Height: 1},
		{Width: MaxDimension, Height: MaxDimension},
		{Width: 8, Height: 4, Format: 3},
		{Width: 8, Height: 4, KeyInterval: -1},
		{Width: 8, Height: 4, Version: 4},
		{Width: 8, Height: 4, Codec: 9},
	} {
		if _, err := NewWriter(io.Discard, bad); err == nil {
			t.Errorf("NewWriter(%+v) accepted", bad)
		}
	}
	var buf bytes.Buffer
	sw, err := NewWriter(&buf, Header{Width: w, Height: h, Codec: CodecZstd, KeyInterval: 2, FirstSeq: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.WriteFrame(9, t0, pix); err == nil {
		t.Error("seq below FirstSeq accepted")
	}
	if err := sw.WriteFrame(10, t0, pix[:len(pix)-4]); err == nil {
		t.Error("short frame accepted")
	}
	delta := EncodedFrame{Seq: 10, Key: false, Codec: CodecRaw, Payload: make([]byte, len(pix)), RawLen: len(pix)}
	if err := sw.WriteEncoded(delta); err == nil || !strings.Contains(err.Error(), "first record") {
		t.Errorf("delta as first record: %v", err)
	}
	if err := sw.WriteFrame(10, t0, pix); err != nil {
		t.Fatal(err)
	}
	if err := sw.WriteFrame(10, t0, pix); err == nil {
		t.Error("repeated seq accepted")
	}
	delta.Seq = 11
	if err := sw.WriteEncoded(delta); err != nil {
		t.Fatal(err)
	}
	delta.Seq = 12
	if err := sw.WriteEncoded(delta); err == nil || !strings.Contains(err.Error(), "key interval") {
		t.Errorf("delta past the key interval: %v", err)
	}
	for _, f := range []EncodedFrame{
		{Seq: 12, Key: true, Codec: CodecZstd, Payload: []byte{1}, RawLen: len(pix) - 4},
		{Seq: 12, Key: true, Codec: CodecZstd, Payload: nil, RawLen: len(pix)},
		{Seq: 12, Key: true, Codec: CodecZstd, Payload: make([]byte, len(pix)+1), RawLen: len(pix)},
		{Seq: 12, Key: true, Codec: CodecRaw, Payload: make([]byte, 3), RawLen: len(pix)},
		{Seq: 12, Key: true, Codec: 7, Payload: []byte{1}, RawLen: len(pix)},
	} {
		if err := sw.WriteEncoded(f); err == nil {
			t.Errorf("WriteEncoded(%+v) accepted", f)
		}
	}
	if sw.Frames() != 2 {
		t.Fatalf("Frames %d", sw.Frames())
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if err := sw.Close(); err != nil || buf.Len() != n {
		t.Fatalf("second Close: %v, wrote %d more bytes", err, buf.Len()-n)
	}
	if err := sw.WriteFrame(20, t0, pix); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if _, err := Decode(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		k := f.n
		f.n = 0
		return k, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterErrorSticky(t *testing.T) {
	pix := movingRects(8, 8, 0)
	sw, err := NewWriter(&failWriter{n: 100}, Header{Width: 8, Height: 8, Codec: CodecS2})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.WriteFrame(0, t0, pix); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("write: %v", err)
	}
	if err := sw.WriteFrame(1, t0, pix); err == nil {
		t.Fatal("write after a failed write succeeded")
	}
	if err := sw.Close(); err == nil {
		t.Fatal("Close after a failed write succeeded")
	}
}

func TestReaderRejectsBadHeaders(t *testing.T) {
	data := writeSegment(t, Header{Width: 4, Height: 4, Codec: CodecZstd}, makeFrames(4, 4, 2, 0, movingRects))
	text := "hello, world, this is not a segment at all, not even close, no, no"
	if _, err := NewReader(strings.NewReader(text), int64(len(text))); !errors.Is(err, ErrCorrupt) {
		t.Errorf("text: %v", err)
	}
	if _, err := NewReader(bytes.NewReader([]byte("PK")), 2); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short non-segment: %v", err)
	}
	for _, v := range []uint16{0, 4, 0xffff} {
		bad := bytes.Clone(data)
		le.PutUint16(bad[8:], v)
		if _, err := NewReader(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrVersion) {
			t.Errorf("version %d: %v", v, err)
		}
	}
	// A header whose CRC is valid but which claims a huge frame.
	huge := bytes.Clone(data)
	le.PutUint32(huge[12:], MaxDimension)
	le.PutUint32(huge[16:], MaxDimension)
	le.PutUint32(huge[60:], crc32c(huge[:60]))
	if _, err := NewReader(bytes.NewReader(huge), int64(len(huge))); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "pixels") {
		t.Errorf("huge frame: %v", err)
	}
}

func TestEmptySegment(t *testing.T) {
	data := writeSegment(t, Header{Width: 4, Height: 4}, nil)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 || r.Truncated() {
		t.Fatalf("Len %d Truncated %v", r.Len(), r.Truncated())
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatal(err)
	}
	if err := r.SeekFrame(0); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	// Only the header (a writer that crashed before its first frame).
	r, err = NewReader(bytes.NewReader(data[:headerSize]), headerSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !r.Truncated() || !errors.Is(err, ErrTruncated) {
		t.Fatalf("header only: Truncated %v, Next %v", r.Truncated(), err)
	}
}

func TestBGRA8(t *testing.T) {
	const w, h = 10, 6 // odd pixel count per row exercises the swizzle tail
	fs := makeFrames(w, h, 5, 0, movingRects)
	bgra := make([]testFrame, len(fs))
	for i, f := range fs {
		p := bytes.Clone(f.pix)
		for j := 0; j < len(p); j += 4 {
			p[j], p[j+2] = p[j+2], p[j]
		}
		bgra[i] = testFrame{seq: f.seq, t: f.t, pix: p}
	}
	data := writeSegment(t, Header{Width: w, Height: h, Format: BGRA8, Codec: CodecS2}, bgra)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Header().Format != BGRA8 {
		t.Fatalf("format %v", r.Header().Format)
	}
	for i := range fs {
		f, err := r.NextView()
		if err != nil {
			t.Fatal(err)
		}
		checkFrame(t, f, fs[i], w, h) // converted to RGBA
	}
}

func TestNextViewSharesBuffer(t *testing.T) {
	const w, h = 16, 8
	fs := makeFrames(w, h, 6, 0, staticScene)
	data := writeSegment(t, Header{Width: w, Height: h, Codec: CodecZstd}, fs)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var first []byte
	for i := range fs {
		f, err := r.NextView()
		if err != nil {
			t.Fatal(err)
		}
		checkFrame(t, f, fs[i], w, h)
		if i == 0 {
			first = f.Image.Pix
		} else if &first[0] != &f.Image.Pix[0] {
			t.Fatal("NextView allocated a new image")
		}
	}
}

func TestOpenFile(t *testing.T) {
	fs := makeFrames(32, 32, 8, 0, movingRects)
	data := writeSegment(t, Header{Width: 32, Height: 32, Codec: CodecZstd, KeyInterval: 3}, fs)
	path := filepath.Join(t.TempDir(), "00000001.seg")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range fs {
		f, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		checkFrame(t, f, fs[i], 32, 32)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.seg")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseCodec(t *testing.T) {
	for s, want := range map[string]Codec{"zstd": CodecZstd, "s2": CodecS2, "raw": CodecRaw, "none": CodecRaw} {
		c, err := ParseCodec(s)
		if err != nil || c != want {
			t.Errorf("ParseCodec(%q) = %v, %v", s, c, err)
		}
		if s != "none" && c.String() != s {
			t.Errorf("%v.String() = %q", c, c.String())
		}
	}
	if _, err := ParseCodec("gzip"); err == nil {
		t.Error("gzip accepted")
	}
}

func TestZeroTimes(t *testing.T) {
	fs := []testFrame{{seq: 0, pix: movingRects(4, 4, 0)}}
	data := writeSegment(t, Header{Width: 4, Height: 4}, fs)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Header().SessionStart.IsZero() {
		t.Fatalf("SessionStart %v", r.Header().SessionStart)
	}
	f, err := r.Next()
	if err != nil || !f.Time.IsZero() {
		t.Fatalf("time %v, %v", f.Time, err)
	}
}

// TestUndecodablePayload: records whose CRCs are right but whose payloads
// do not decode to a frame (a writer bug, or a codec mismatch) are reported
// as corrupt, naming the problem.
func TestUndecodablePayload(t *testing.T) {
	const w, h = 8, 8
	pix := movingRects(w, h, 0)
	cases := []struct {
		name    string
		codec   Codec
		payload []byte
		want    string
	}{
		{"zstd-garbage", CodecZstd, []byte("definitely not zstd"), "zstd"},
		{"zstd-short", CodecZstd, compress(nil, pix[:len(pix)-4], CodecZstd), "decodes to 252 bytes"},
		{"zstd-long", CodecZstd, compress(nil, append(bytes.Clone(pix), 1, 2, 3, 4), CodecZstd), "zstd"},
		{"s2-garbage", CodecS2, []byte{0x80, 0x02, 0xff, 0xff}, "s2"},
		{"s2-short", CodecS2, compress(nil, pix[:len(pix)-4], CodecS2), "decodes to 252 bytes"},
	}
	for _, c := range cases {
		for _, key := range []bool{true, false} {
			var buf bytes.Buffer
			sw, err := NewWriter(&buf, Header{Width: w, Height: h})
			if err != nil {
				t.Fatal(err)
			}
			first := EncodedFrame{Seq: 0, Key: true, Codec: CodecRaw, Payload: pix, RawLen: len(pix)}
			if err := sw.WriteEncoded(first); err != nil {
				t.Fatal(err)
			}
			bad := EncodedFrame{Seq: 1, Key: key, Codec: c.codec, Payload: c.payload, RawLen: len(pix)}
			if err := sw.WriteEncoded(bad); err != nil {
				t.Fatal(err)
			}
			sw.Close()
			frames, err := Decode(buf.Bytes())
			if len(frames) != 1 || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "record 1 (seq 1)") {
				t.Fatalf("%s key=%v: %d frames, %v", c.name, key, len(frames), err)
			}
			if c.name == "zstd-short" && key {
				t.Logf("%v", err)
			}
		}
	}
}

// TestByteLayout pins the byte layout to docs/segment-format.md (version
// 2: the 28-byte index entries of versions 1 and 2).
func TestByteLayout(t *testing.T) {
	if got := crc32c([]byte("123456789")); got != 0xE3069283 {
		t.Fatalf("CRC32C check value %#x", got)
	}
	const w, h = 3, 2
	start := time.Unix(0, 1_700_000_000_123_456_789)
	ft := time.Unix(0, 1_700_000_001_000_000_000)
	pix := bytes.Repeat([]byte{1, 2, 3, 255}, w*h)
	var buf bytes.Buffer
	sw, err := NewWriter(&buf, Header{Version: 2, Width: w, Height: h, KeyInterval: 7, Codec: CodecS2, Segment: 5, FirstSeq: 40, SessionStart: start})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.WriteEncoded(EncodedFrame{Seq: 42, Time: ft, Key: true, Codec: CodecRaw, Payload: pix, RawLen: len(pix)}); err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if len(b) != 64+36+24+8+28+32 {
		t.Fatalf("segment is %d bytes", len(b))
	}
	u16 := func(o int) uint64 { return uint64(le.Uint16(b[o:])) }
	u32 := func(o int) uint64 { return uint64(le.Uint32(b[o:])) }
	u64 := func(o int) uint64 { return le.Uint64(b[o:]) }
	rec, idx, tr := 64, 64+36+24, 64+36+24+8+28
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"version", u16(8), 2}, {"header_size", u16(10), 64}, {"width", u32(12), w}, {"height", u32(16), h},
		{"pixel_format", uint64(b[20]), 1}, {"codec_hint", uint64(b[21]), 2}, {"key_interval", u32(24), 7},
		{"segment", u64(32), 5}, {"first_seq", u64(40), 40}, {"session_start", u64(48), uint64(start.UnixNano())},
		{"header_crc", u32(60), uint64(crc32c(b[:60]))},
		{"record flags", uint64(b[rec+4]), 1}, {"record codec", uint64(b[rec+5]), 0}, {"record seq", u64(rec + 8), 42},
		{"record time", u64(rec + 16), uint64(ft.UnixNano())}, {"payload_len", u32(rec + 24), 24},
		{"payload_crc", u32(rec + 28), uint64(crc32c(pix))}, {"record header_crc", u32(rec + 32), uint64(crc32c(b[rec : rec+32]))},
		{"frame_count", u32(idx + 4), 1}, {"entry seq", u64(idx + 8), 42}, {"entry offset", u64(idx + 16), 64},
		{"entry time", u64(idx + 24), uint64(ft.UnixNano())}, {"entry flags", uint64(b[idx+32]), 1}, {"entry codec", uint64(b[idx+33]), 0},
		{"index_offset", u64(tr), uint64(idx)}, {"trailer frame_count", u32(tr + 8), 1},
		{"index_crc", u32(tr + 12), uint64(crc32c(b[idx:tr]))}, {"trailer_crc", u32(tr + 20), uint64(crc32c(b[tr : tr+20]))},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	for _, m := range []struct {
		at   int
		want string
	}{{0, "\x89SKYSEG\n"}, {rec, "SKFR"}, {idx, "SKIX"}, {tr + 24, "\x89SKYEND\n"}} {
		if got := string(b[m.at : m.at+len(m.want)]); got != m.want {
			t.Errorf("magic at %d: %q, want %q", m.at, got, m.want)
		}
	}
	if !bytes.Equal(b[rec+36:rec+36+24], pix) {
		t.Error("payload bytes differ")
	}
}

// TestByteLayoutV3 pins version 3's compact record headers and index to
// docs/segment-format.md. A record header: magic "SR", flags | codec << 4,
// uvarint seq − first_seq, varint (zigzag) time − session_start, uvarint
// payload_len, payload CRC32C, header CRC32C. An index entry: the seq step
// (from FirstSeq, then from the entry before + 1), the record's size, the
// time step (it may go back) and flags | codec << 4. Header and trailer
// are version 2's.
func TestByteLayoutV3(t *testing.T) {
	const w, h = 3, 2
	start := time.Unix(0, 1_700_000_000_000_000_000)
	ft := start.Add(300 * time.Nanosecond)
	pix := bytes.Repeat([]byte{1, 2, 3, 255}, w*h)
	z := compress(nil, pix, CodecZstd)
	if len(z) >= 128-15 {
		t.Fatalf("zstd payload of %d bytes: the layout below wants a one-byte length", len(z))
	}
	var buf bytes.Buffer
	sw, err := NewWriter(&buf, Header{Width: w, Height: h, KeyInterval: 7, Codec: CodecS2, FirstSeq: 40, SessionStart: start})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []EncodedFrame{
		{Seq: 42, Time: ft, Key: true, Codec: CodecRaw, Payload: pix, RawLen: len(pix)},
		{Seq: 43, Time: ft.Add(-5), Key: true, Codec: CodecZstd, Payload: z, RawLen: len(pix)},
		{Seq: 300, Time: ft.Add(200), Key: true, Codec: CodecRaw, Payload: pix, RawLen: len(pix)},
	} {
		if err := sw.WriteEncoded(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if v := le.Uint16(b[8:]); v != 3 {
		t.Fatalf("version %d, want 3 (the default)", v)
	}
	// The records, header by header.
	record := func(fields []byte, payload []byte) []byte {
		r := le.AppendUint32(append([]byte("SR"), fields...), crc32c(payload))
		return append(le.AppendUint32(r, crc32c(r)), payload...)
	}
	r0 := record([]byte{0x01, 2, 0xd8, 0x04, 24}, pix)          // key, raw; seq 40+2; time +300 (zigzag 600); 24 bytes
	r1 := record([]byte{0x11, 3, 0xce, 0x04, byte(len(z))}, z)  // key, zstd; seq 40+3; time +295
	r2 := record([]byte{0x01, 0x84, 0x02, 0xe8, 0x07, 24}, pix) // seq 40+260; time +500
	want := append(append(append([]byte(nil), r0...), r1...), r2...)
	if got := b[64 : 64+len(want)]; !bytes.Equal(got, want) {
		t.Fatalf("records\n% x, want\n% x", got, want)
	}
	idx := 64 + len(want)
	wantIdx := []byte{'S', 'K', 'I', 'X', 3, 0, 0, 0,
		2, byte(len(r0)), 0xd8, 0x04, 1, // seq 42 = 40+2; time +300; key, raw
		0, byte(len(r1)), 9, 1 | 1<<4, // seq 43 = 42+1+0; time -5 (zigzag 9); key, zstd
		0x80 | (300-44)&0x7f, (300 - 44) >> 7, byte(len(r2)), 0x9a, 0x03, 1, // seq 300 = 43+1+256; time +205 (zigzag 410)
	}
	tr := len(b) - 32
	if got := b[idx:tr]; !bytes.Equal(got, wantIdx) {
		t.Fatalf("index\n% x, want\n% x", got, wantIdx)
	}
	if got := le.Uint64(b[tr:]); got != uint64(idx) {
		t.Errorf("index_offset %d, want %d", got, idx)
	}
	if got := le.Uint32(b[tr+12:]); got != crc32c(b[idx:tr]) {
		t.Errorf("index_crc %#x", got)
	}
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil || r.Truncated() {
		t.Fatalf("NewReader: %v, truncated %v", err, r != nil && r.Truncated())
	}
	var got []string
	for _, e := range r.Index() {
		got = append(got, fmt.Sprintf("%d %d %d %d %v", e.Seq, e.Offset, e.Size, e.Time.Sub(start), e.Codec))
	}
	if s, want := strings.Join(got, "; "), fmt.Sprintf("42 64 %d 300 raw; 43 %d %d 295 zstd; 300 %d %d 500 raw",
		len(r0), 64+len(r0), len(r1), 64+len(r0)+len(r1), len(r2)); s != want {
		t.Errorf("index entries: %s, want %s", s, want)
	}
	// Without the index (scanned), the same records.
	scanned, err := NewReader(bytes.NewReader(b[:idx]), int64(idx))
	if err != nil || !scanned.Truncated() || scanned.Len() != 3 {
		t.Fatalf("scan: %v, truncated %v, %d records", err, scanned != nil && scanned.Truncated(), scanned.Len())
	}
	for i, e := range scanned.Index() {
		if e != r.Index()[i] {
			t.Errorf("scanned entry %d: %+v, indexed %+v", i, e, r.Index()[i])
		}
	}
}

// TestCompactIndexMalformed: a version-3 index whose CRCs are right but
// whose entries are not (sizes that miss the index, a varint cut short,
// bytes left over, a seq that overflows, bad flags or codec, a count that
// disagrees) is not trusted: the reader scans the records instead, reports
// the index as damage and still gives every frame. A reader that believed
// the sizes would read records at wrong offsets.
func TestCompactIndexMalformed(t *testing.T) {
	const w, h = 16, 8
	fs := makeFrames(w, h, 5, 10, movingRects)
	data := writeSegment(t, Header{Width: w, Height: h, Codec: CodecZstd, FirstSeq: 10}, fs)
	tr := len(data) - trailerSize
	idxOff := int(le.Uint64(data[tr:]))
	entries := data[idxOff+indexHeaderSize : tr]
	// rebuild returns the segment with another index (header and entries)
	// and a trailer whose CRCs match it.
	rebuild := func(count int, ents []byte) []byte {
		out := append(bytes.Clone(data[:idxOff]), indexMagic[:]...)
		out = le.AppendUint32(out, uint32(count))
		out = append(out, ents...)
		t := make([]byte, trailerSize)
		le.PutUint64(t[0:], uint64(idxOff))
		le.PutUint32(t[8:], uint32(count))
		le.PutUint32(t[12:], crc32c(out[idxOff:]))
		le.PutUint32(t[20:], crc32c(t[:20]))
		copy(t[24:], trailerMagic[:])
		return append(out, t...)
	}
	if got := rebuild(len(fs), entries); !bytes.Equal(got, data) {
		t.Fatal("rebuild of the intact index differs from the writer's")
	}
	// The first entry: seq step, size, time step, flags|codec.
	_, n1 := binary.Uvarint(entries)
	size0, n2 := binary.Uvarint(entries[n1:])
	_, n3 := binary.Varint(entries[n1+n2:])
	first, rest := entries[:n1+n2+n3+1], entries[n1+n2+n3+1:]
	withFirst := func(seqStep, size uint64, flags byte) []byte {
		e := binary.AppendUvarint(nil, seqStep)
		e = binary.AppendUvarint(e, size)
		e = append(e, first[n1+n2:n1+n2+n3]...)
		return append(append(e, flags), rest...)
	}
	for _, c := range []struct {
		name  string
		count int
		ents  []byte
	}{
		{"size too large", len(fs), withFirst(0, size0+1, first[len(first)-1])},
		{"size too small", len(fs), withFirst(0, size0-1, first[len(first)-1])},
		{"size zero", len(fs), withFirst(0, 0, first[len(first)-1])},
		{"cut varint", len(fs), entries[:len(entries)-1]},
		{"bytes left over", len(fs), append(bytes.Clone(entries), 0)},
		{"seq overflow", len(fs), withFirst(math.MaxUint64-5, size0, first[len(first)-1])},
		{"unknown flags", len(fs), withFirst(0, size0, first[len(first)-1]|0x04)},
		{"unknown codec", len(fs), withFirst(0, size0, first[len(first)-1]&0x0f|9<<4)},
		{"count too high", len(fs) + 1, entries},
		{"count too low", len(fs) - 1, entries},
		{"unterminated varint", len(fs), append(bytes.Clone(entries[:len(entries)-4]), 0x80, 0x80, 0x80, 0x80)},
	} {
		bad := rebuild(c.count, c.ents)
		r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
		if err != nil {
			t.Fatalf("%s: NewReader: %v", c.name, err)
		}
		if !r.Truncated() || !errors.Is(r.EndError(), ErrCorrupt) {
			t.Errorf("%s: truncated %v, end error %v; want the index rejected as corrupt", c.name, r.Truncated(), r.EndError())
		}
		for i := range fs {
			f, err := r.Next()
			if err != nil {
				t.Fatalf("%s: frame %d: %v", c.name, i, err)
			}
			checkFrame(t, f, fs[i], w, h)
		}
		if _, err := r.Next(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: after the frames: %v, want the index damage", c.name, err)
		}
	}
}

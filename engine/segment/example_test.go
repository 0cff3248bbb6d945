package segment_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// Write three 4x2 frames into a segment in memory and read them back.
func ExampleWriter() {
	var buf bytes.Buffer
	start := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	w, err := segment.NewWriter(&buf, segment.Header{Width: 4, Height: 2, Codec: segment.CodecS2, SessionStart: start})
	if err != nil {
		panic(err)
	}
	for i := range 3 {
		pix := bytes.Repeat([]byte{byte(10 * i), 0, 0, 255}, 4*2) // every pixel (10i, 0, 0)
		if err := w.WriteFrame(uint64(i), start.Add(time.Duration(i)*time.Second/60), pix); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}

	r, err := segment.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		panic(err)
	}
	defer r.Close()
	fmt.Println("frames:", r.Len(), "size:", r.Header().Width, "x", r.Header().Height)
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("seq %d at +%v: pixel (3,1) = %v\n", f.Seq, f.Time.Sub(start).Round(time.Millisecond), f.Image.RGBAAt(3, 1))
	}
	// Output:
	// frames: 3 size: 4 x 2
	// seq 0 at +0s: pixel (3,1) = {0 0 0 255}
	// seq 1 at +17ms: pixel (3,1) = {10 0 0 255}
	// seq 2 at +33ms: pixel (3,1) = {20 0 0 255}
}

// The keys a recording is stored under, and how to take one apart.
func ExampleParseKey() {
	session := segment.NewSessionID(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	prefix := segment.SessionPrefix("breakout", "alice", session)
	key := segment.Key(prefix, 7)
	fmt.Println(key)
	fmt.Println(segment.ManifestKey(prefix))
	k, ok := segment.ParseKey(key)
	fmt.Println(ok, k.Game, k.Player, k.Session, k.Index)
	_, ok = segment.ParseKey("breakout/alice/saves/slot1")
	fmt.Println(ok)
	// Output:
	// breakout/alice/sessions/20240102T030405.000Z-3200/00000007.seg
	// breakout/alice/sessions/20240102T030405.000Z-3200/session.json
	// true breakout alice 20240102T030405.000Z-3200 7
	// false
}

package viewer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
)

// memStore is an in-memory sink.
type memStore struct {
	sdk.Backend
	name string
}

func (m memStore) Name() string { return m.name }

const (
	testW, testH = 37, 21
	game, player = "pong", "ann"
	sessionID    = "20260101T000000.000Z-0000" // segment.NewSessionID(t0), as the engine names it
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// pixels is the image of frame seq: every pixel differs between frames,
// with alpha 255 like a game's framebuffer.
func pixels(seq uint64) []byte {
	pix := make([]byte, testW*testH*4)
	for i := 0; i < testW*testH; i++ {
		pix[4*i] = byte(i + int(seq)*7)
		pix[4*i+1] = byte(i*3 ^ int(seq))
		pix[4*i+2] = byte(seq * 13)
		pix[4*i+3] = 255
	}
	return pix
}

// writeSession stores a session of segments; each segment is a list of
// frame numbers (missing numbers are gaps). The segments carry the session
// start the id was made from (segment.NewSessionID, to the millisecond).
func writeSession(t *testing.T, b sdk.Backend, id string, segs [][]uint64) {
	t.Helper()
	prefix := segment.SessionPrefix(game, player, id)
	t0, err := time.Parse("20060102T150405.000Z", id[:20])
	if err != nil || segment.NewSessionID(t0) != id {
		t.Fatalf("session id %s is not segment.NewSessionID of a whole millisecond (%v)", id, err)
	}
	for i, seqs := range segs {
		writeSegment(t, b, prefix, t0, i, seqs)
	}
}

// writeSegment stores segment i of the session at prefix, started at t0.
func writeSegment(t *testing.T, b sdk.Backend, prefix string, t0 time.Time, i int, seqs []uint64) {
	t.Helper()
	var buf bytes.Buffer
	w, err := segment.NewWriter(&buf, segment.Header{Width: testW, Height: testH, KeyInterval: 4, Codec: segment.CodecZstd,
		Segment: uint64(i), FirstSeq: seqs[0], SessionStart: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range seqs {
		if err := w.WriteFrame(seq, t0.Add(time.Duration(seq)*time.Second/60), pixels(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(context.Background(), segment.Key(prefix, uint64(i)), bytes.NewReader(buf.Bytes()), sdk.PutOptions{Size: int64(buf.Len())}); err != nil {
		t.Fatal(err)
	}
}

// stored are the frames of the test session: 0-9, 12-19 (10 and 11 are a
// gap), 20-29 in a second segment.
var stored = func() (out []uint64) {
	for s := uint64(0); s < 30; s++ {
		if s != 10 && s != 11 {
			out = append(out, s)
		}
	}
	return out
}()

func newTestHandler(t *testing.T, opts Options) (*Handler, memStore) {
	t.Helper()
	st := memStore{Backend: synctest.NewMemoryBackend(), name: "mem"}
	writeSession(t, st.Backend, sessionID, [][]uint64{stored[:18], stored[18:]})
	// Not sessions: ignored.
	st.Put(context.Background(), "pong/ann/saves/slot1", strings.NewReader("x"), sdk.PutOptions{Size: 1})
	h := New([]Store{st}, opts)
	t.Cleanup(h.Close)
	return h, st
}

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Host = "127.0.0.1:8080"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const sessPath = "/api/sessions/mem/pong/ann/" + sessionID

func TestViewerAPI(t *testing.T) {
	h, _ := newTestHandler(t, Options{})

	rec := get(t, h, "GET", "/api/sessions")
	if rec.Code != 200 {
		t.Fatalf("sessions: %d %s", rec.Code, rec.Body)
	}
	var rows []sessionJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("rows = %+v", rows)
	}
	r := rows[0]
	if r.Session != "pong/ann/"+sessionID || r.Sink != "mem" || r.Frames != len(stored) || r.Gaps == nil || *r.Gaps != 1 || r.GapFrames != 2 ||
		r.Width != testW || r.Height != testH || r.Segments != 2 || r.Bytes == 0 || r.URL != sessPath || !r.Start.Equal(t0) {
		t.Errorf("row = %+v", r)
	}
	if got := rec.Header().Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") {
		t.Errorf("CSP = %q", got)
	}
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}

	rec = get(t, h, "GET", sessPath)
	if rec.Code != 200 {
		t.Fatalf("summary: %d %s", rec.Code, rec.Body)
	}
	var sum summaryJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Width != testW || sum.Height != testH || len(sum.Frames) != len(stored) || sum.LastSeq != 29 ||
		len(sum.Gaps) != 1 || sum.Gaps[0].From != 10 || sum.Gaps[0].To != 11 || sum.Gaps[0].Kind != "dropped" || sum.Gaps[0].Damaged || sum.FrameURL != sessPath+"/frames/" {
		t.Errorf("summary = %+v", sum)
	}
	for i, f := range sum.Frames {
		want := float64(time.Duration(stored[i])*time.Second/60) / 1e6
		if f.Seq != stored[i] || f.T < want-0.001 || f.T > want+0.001 {
			t.Errorf("frame %d = %+v, want seq %d t %.3f", i, f, stored[i], want)
		}
	}
	if !sum.Frames[0].Key || !sum.Frames[18].Key {
		t.Errorf("first frames of the segments should be key frames: %+v", sum.Frames)
	}

	// Every frame, in playback order and then backwards, decodes to exactly
	// what was written.
	order := append(append([]uint64{}, stored...), 25, 3, 0, 29, 12)
	for _, seq := range order {
		rec := get(t, h, "GET", sessPath+"/frames/"+itoa(seq)+".png")
		if rec.Code != 200 {
			t.Fatalf("frame %d: %d %s", seq, rec.Code, rec.Body)
		}
		if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "image/png" || !strings.Contains(cc, "immutable") {
			t.Errorf("frame %d: Content-Type %q, Cache-Control %q", seq, ct, cc)
		}
		img, err := png.Decode(rec.Body)
		if err != nil {
			t.Fatalf("frame %d: %v", seq, err)
		}
		if got := rgba(img); !bytes.Equal(got, pixels(seq)) {
			t.Fatalf("frame %d: decoded PNG differs from the frame written", seq)
		}
	}

	rec = get(t, h, "HEAD", sessPath+"/frames/5.png")
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD frame: %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}

	rec = get(t, h, "GET", "/")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `id="frame"`) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("index: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, f := range []string{"/static/app.js", "/static/style.css"} {
		if rec := get(t, h, "GET", f); rec.Code != 200 || rec.Body.Len() == 0 {
			t.Errorf("%s: %d", f, rec.Code)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func rgba(img image.Image) []byte {
	b := img.Bounds()
	out := make([]byte, 0, b.Dx()*b.Dy()*4)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := image.NewRGBA(image.Rect(0, 0, 1, 1))
			c.Set(0, 0, img.At(x, y))
			out = append(out, c.Pix...)
		}
	}
	return out
}

func TestViewerRejects(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	for _, path := range []string{
		"/api/sessions/mem/pong/ann/nope",
		"/api/sessions/other/pong/ann/" + sessionID,
		"/api/sessions/mem/pong/ann",
		"/api/sessions/mem/pong/ann/" + sessionID + "/x",
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames",
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/",
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/10.png",   // in the gap
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/30.png",   // past the end
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/-1.png",   // signed
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/+1.png",   // signed
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/0x1.png",  // another base
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/1e1.png",  // float
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/1.jpg",    // another format
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/1",        // no suffix
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/%201.png", // space
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/99999999999999999999999.png",
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/18446744073709551616.png",
		"/api/sessions/mem/pong/ann/" + sessionID + "/frames/..%2F..%2F1.png",
		"/api/sessions/mem/pong/ann/..%2F..%2F..%2Fetc%2Fpasswd",
		"/api/sessions/mem/pong/ann/" + sessionID + "%2F..",
		"/api/sessions/mem/pong%2Fann/sessions/" + sessionID,
		"/api/sessions/mem/pong/ann/sessions%2F" + sessionID,
		"/api/sessions/mem/../../etc/passwd",
		"/api/sessions/mem/pong/ann/" + sessionID + "/../../../x",
		"/static/../viewer.go",
		"/static/",
		"/static/nope.js",
		"/static/..%2Fviewer.go",
		"/viewer.go",
		"/api",
		"/api/",
	} {
		rec := get(t, h, "GET", path)
		var body struct{ Error string }
		if rec.Code != http.StatusNotFound || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error == "" {
			t.Errorf("GET %s: %d %q, want 404 with a JSON error", path, rec.Code, rec.Body)
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		rec := get(t, h, m, sessPath+"/frames/1.png")
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" || !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("%s: %d %q", m, rec.Code, rec.Body)
		}
	}
	req := httptest.NewRequest("GET", "/api/sessions", nil)
	req.Host = "attacker.example:8080"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: %d, want 421", rec.Code)
	}
	for _, host := range []string{"localhost:1", "127.0.0.1", "[::1]:80", "127.3.4.5:9"} {
		req := httptest.NewRequest("GET", "/api/sessions", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Errorf("Host %s: %d", host, rec.Code)
		}
	}
}

// failStore fails or panics on List.
type failStore struct {
	memStore
	panics bool
}

func (f failStore) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if f.panics {
		panic("store exploded")
	}
	return errors.New("sink unreachable")
}

func TestViewerStoreFailures(t *testing.T) {
	for _, panics := range []bool{false, true} {
		h := New([]Store{failStore{memStore: memStore{Backend: synctest.NewMemoryBackend(), name: "bad"}, panics: panics}}, Options{})
		for _, path := range []string{"/api/sessions", "/api/sessions/bad/a/b/c", "/api/sessions/bad/a/b/c/frames/1.png"} {
			rec := get(t, h, "GET", path)
			want := http.StatusBadGateway
			if panics {
				want = http.StatusInternalServerError
			}
			if rec.Code != want || !strings.Contains(rec.Body.String(), `"error"`) {
				t.Errorf("panics=%v GET %s: %d %q, want %d", panics, path, rec.Code, rec.Body, want)
			}
		}
		h.Close()
	}
}

func TestViewerReadersLRU(t *testing.T) {
	h, st := newTestHandler(t, Options{MaxOpen: 1, ListTTL: time.Hour})
	other := segment.NewSessionID(t0.Add(time.Second))
	writeSession(t, st.Backend, other, [][]uint64{{0, 1, 2}})
	h.list = nil
	paths := []string{sessPath, "/api/sessions/mem/pong/ann/" + other}
	for i := 0; i < 6; i++ {
		p := paths[i%2]
		seq := uint64(i / 2)
		rec := get(t, h, "GET", p+"/frames/"+itoa(seq)+".png")
		if rec.Code != 200 {
			t.Fatalf("%s frame %d: %d %s", p, seq, rec.Code, rec.Body)
		}
		img, _ := png.Decode(rec.Body)
		if !bytes.Equal(rgba(img), pixels(seq)) {
			t.Fatalf("%s frame %d differs", p, seq)
		}
		h.mu.Lock()
		n := len(h.open)
		h.mu.Unlock()
		if n != 1 {
			t.Fatalf("%d open readers, want at most 1", n)
		}
	}
	h.Close()
	h.Close()
	if rec := get(t, h, "GET", "/api/sessions"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d", rec.Code)
	}
}

func TestViewerListingCache(t *testing.T) {
	h, st := newTestHandler(t, Options{ListTTL: 50 * time.Millisecond})
	var rows []sessionJSON
	json.Unmarshal(get(t, h, "GET", "/api/sessions").Body.Bytes(), &rows)
	first := h.list.byKey[keyOf("mem", game, player, sessionID)]
	writeSession(t, st.Backend, segment.NewSessionID(t0.Add(2*time.Second)), [][]uint64{{0}})
	json.Unmarshal(get(t, h, "GET", "/api/sessions").Body.Bytes(), &rows)
	if len(rows) != 1 {
		t.Errorf("within the TTL the listing should be reused: %d rows", len(rows))
	}
	time.Sleep(60 * time.Millisecond)
	json.Unmarshal(get(t, h, "GET", "/api/sessions").Body.Bytes(), &rows)
	if len(rows) != 2 {
		t.Errorf("after the TTL: %d rows, want 2", len(rows))
	}
	if h.list.byKey[keyOf("mem", game, player, sessionID)] != first {
		t.Error("an unchanged session was summarized again")
	}
}

func TestViewerServeStopsOnCancel(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/sessions")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		t.Error("still serving after cancel")
	}
}

// Concurrent requests for frames of two sessions, with one reader kept
// open, all decode exactly (run with -race).
func TestViewerConcurrent(t *testing.T) {
	h, st := newTestHandler(t, Options{MaxOpen: 1})
	other := segment.NewSessionID(t0.Add(time.Second))
	writeSession(t, st.Backend, other, [][]uint64{{0, 1, 2, 3, 4, 5}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	paths := []string{sessPath, "/api/sessions/mem/pong/ann/" + other}
	errc := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 20 {
				p := paths[(g+i)%2]
				seq := uint64((g*7 + i*3) % 6)
				resp, err := http.Get(srv.URL + p + "/frames/" + strconv.FormatUint(seq, 10) + ".png")
				if err != nil {
					errc <- err
					return
				}
				img, err := png.Decode(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errc <- fmt.Errorf("%s frame %d: %d %v", p, seq, resp.StatusCode, err)
					return
				}
				if !bytes.Equal(rgba(img), pixels(seq)) {
					errc <- fmt.Errorf("%s frame %d differs", p, seq)
					return
				}
			}
			errc <- nil
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// A frame in a gap, or one that does not decode, is a 404 whose JSON
// carries the gap and why (not a 502); damage found by decoding joins the
// session's gaps, and the frames decoded from the damaged one fail with it.
func TestViewerDamagedFrameIsAGap(t *testing.T) {
	h, st := newTestHandler(t, Options{ListTTL: time.Nanosecond})
	key := segment.Key(segment.SessionPrefix(game, player, sessionID), 0)
	var buf bytes.Buffer
	if _, err := st.Get(context.Background(), key, &buf, sdk.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	r, err := segment.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	e := r.Index()[5] // frame 5, a delta of key frame 4 (KeyInterval 4)
	data[e.Offset+36] ^= 0xff
	if _, err := st.Put(context.Background(), key, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	type body struct {
		Error  string   `json:"error"`
		Status int      `json:"status"`
		Gap    *gapJSON `json:"gap"`
	}
	for _, c := range []struct {
		seq      uint64
		kind     string
		from, to uint64
	}{{10, "dropped", 10, 11}, {5, "crc", 5, 5}, {6, "crc", 5, 6}, {7, "crc", 5, 7}} {
		rec := get(t, h, "GET", fmt.Sprintf("%s/frames/%d.png", sessPath, c.seq))
		var b body
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || rec.Code != 404 || b.Gap == nil {
			t.Fatalf("frame %d: %d %s, want 404 with the gap", c.seq, rec.Code, rec.Body)
		}
		if g := *b.Gap; g.Kind != c.kind || g.From != c.from || g.To != c.to || g.Damaged != (c.kind != "dropped") || !strings.Contains(b.Error, c.kind) {
			t.Fatalf("frame %d: gap %+v (%q), want %s frames %d-%d", c.seq, g, b.Error, c.kind, c.from, c.to)
		}
	}
	if rec := get(t, h, "GET", sessPath+"/frames/8.png"); rec.Code != 200 {
		t.Fatalf("frame 8 (the next key frame): %d %s", rec.Code, rec.Body)
	}
	rec := get(t, h, "GET", sessPath)
	var sum summaryJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &sum); err != nil || len(sum.Gaps) != 2 || sum.Gaps[0].Kind != "crc" || sum.Gaps[0].From != 5 || sum.Gaps[0].To != 7 ||
		!strings.Contains(sum.Gaps[0].Reason, "payload CRC32C") || !slices.Equal(sum.Session.Damage, []recordings.Kind{recordings.KindCRC}) {
		t.Fatalf("summary after the damage was found: %v %+v (damage %v)", err, sum.Gaps, sum.Session.Damage)
	}
}

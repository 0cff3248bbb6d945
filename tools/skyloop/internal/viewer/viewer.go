package viewer

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
)

// Store is one sink as the viewer sees it: its name in the config and its
// objects. *sync.Sink has both.
type Store interface {
	Name() string
	recordings.Store
}

// Options tune a Handler; the zero value is usable.
type Options struct {
	// ListTTL is how long a listing of the stores is reused (default 2 s).
	ListTTL time.Duration
	// MaxOpen is how many sessions keep a frame reader (default 4); the
	// least recently used beyond it is closed.
	MaxOpen int
	// Public accepts requests for any Host. Otherwise only loopback host
	// names (localhost, 127.0.0.0/8, ::1) are served, which stops DNS
	// rebinding from reaching a viewer bound to loopback.
	Public bool
	// Logger gets request errors (default: discarded).
	Logger *slog.Logger
}

//go:embed static
var staticFS embed.FS

// Handler serves the viewer. Create it with New and Close it when done.
type Handler struct {
	stores []Store
	opts   Options
	static map[string][]byte // name under static/ → content
	start  time.Time         // modification time of the static files

	listMu  sync.Mutex // held while listing, so concurrent requests list once
	list    *listing
	summary map[string]*entry // last summaries by session key, reused while a session's segments are unchanged

	liveCheck time.Duration // liveCheckInterval; tests shorten it

	mu     sync.Mutex
	open   map[string]*openReader
	clock  uint64 // LRU clock
	closed bool
}

// entry is one session of one store: its row, and its summary once
// someone opens it (or once the row needed it).
type entry struct {
	store Store
	sess  *recordings.Session
	sig   string // the keys and sizes the row was made from
	row   recordings.Row
	err   error // describing failed (the store failed)
	// cache holds the segment headers and indexes read for the session,
	// passed on to the entry that replaces this one when it grows.
	cache *recordings.SegmentCache

	mu      sync.Mutex
	sum     recordings.Summary
	hasSum  bool
	damaged map[uint64]recordings.Damage // frames found damaged when decoding them
	checked time.Time                    // when a live session was last listed again
}

// summary returns the session's summary, reading it on first use.
func (e *entry) summary(ctx context.Context) (recordings.Summary, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.hasSum {
		return e.sum, nil
	}
	sum, err := e.sess.SummarizeCached(ctx, e.store, e.cache)
	if err != nil {
		return recordings.Summary{}, err
	}
	e.sum, e.hasSum = sum, true
	return sum, nil
}

// gaps are the summary's gaps with the frames found damaged since; nil
// before the summary is read.
func (e *entry) gaps() []recordings.Gap {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasSum {
		return nil
	}
	return e.sum.GapsWith(e.damaged)
}

// addDamage remembers frames found damaged.
func (e *entry) addDamage(d map[uint64]recordings.Damage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.damaged == nil {
		e.damaged = map[uint64]recordings.Damage{}
	}
	for q, x := range d {
		e.damaged[q] = x
	}
}

type listing struct {
	at      time.Time
	entries []*entry
	byKey   map[string]*entry
}

// openReader is the frame reader of one session.
type openReader struct {
	mu   sync.Mutex // guards fr
	e    *entry
	fr   *recordings.FrameReader
	used uint64
}

// New returns a Handler over stores.
func New(stores []Store, opts Options) *Handler {
	if opts.ListTTL <= 0 {
		opts.ListTTL = 2 * time.Second
	}
	if opts.MaxOpen <= 0 {
		opts.MaxOpen = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{stores: stores, opts: opts, static: map[string][]byte{}, start: time.Now(),
		summary: map[string]*entry{}, open: map[string]*openReader{}, liveCheck: liveCheckInterval}
	files, _ := fs.ReadDir(staticFS, "static")
	for _, f := range files {
		if b, err := staticFS.ReadFile("static/" + f.Name()); err == nil && !f.IsDir() {
			h.static[f.Name()] = b
		}
	}
	return h
}

// Close releases the frame readers; the stores stay open (their owner
// closes them). Idempotent; requests after Close get 503.
func (h *Handler) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	open := h.open
	h.open = map[string]*openReader{}
	h.mu.Unlock()
	for _, or := range open {
		or.mu.Lock()
		or.fr.Close()
		or.mu.Unlock()
	}
}

// Serve serves h on ln until ctx is cancelled, then shuts the server down
// (in-flight requests get a few seconds) and returns. It returns the error
// that stopped serving, or nil after a shutdown asked for by ctx.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	<-errc
	return err
}

// httpError is an error with its status, and for a frame that is not
// there the gap it is in.
type httpError struct {
	code int
	msg  string
	gap  *gapJSON
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP routes a request. It never panics: a panic in a handler is
// answered with 500.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	rw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.opts.Logger.Error("viewer: panic serving request", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if !rw.wrote {
				writeError(rw, &httpError{code: http.StatusInternalServerError, msg: "internal error"})
			}
		}
	}()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeError(rw, &httpError{code: http.StatusMethodNotAllowed, msg: "method " + r.Method + " not allowed: the viewer is read-only"})
		return
	}
	if !h.opts.Public && !loopbackHost(r.Host) {
		writeError(rw, &httpError{code: http.StatusMisdirectedRequest, msg: "host not served: the viewer answers only to loopback host names"})
		return
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		writeError(rw, &httpError{code: http.StatusServiceUnavailable, msg: "the viewer is shutting down"})
		return
	}
	if err := h.route(rw, r); err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			h.opts.Logger.Warn("viewer: request failed", "path", r.URL.Path, "err", err)
			he = &httpError{code: http.StatusBadGateway, msg: err.Error()}
		}
		if !rw.wrote {
			writeError(rw, he)
		}
	}
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request) error {
	raw := r.URL.EscapedPath()
	switch {
	case raw == "/" || raw == "/index.html":
		return h.serveStatic(w, r, "index.html")
	case strings.HasPrefix(raw, "/static/"):
		return h.serveStatic(w, r, strings.TrimPrefix(raw, "/static/"))
	case raw == "/api/sessions" || raw == "/api/sessions/":
		return h.serveSessions(w, r)
	case strings.HasPrefix(raw, "/api/sessions/"):
		parts := strings.Split(strings.TrimPrefix(raw, "/api/sessions/"), "/")
		for i, p := range parts {
			u, err := url.PathUnescape(p)
			if err != nil {
				return notFound("no such session")
			}
			parts[i] = u
		}
		switch {
		case len(parts) == 4:
			e, err := h.find(r.Context(), parts)
			if err != nil {
				return err
			}
			return h.serveSummary(w, r, e)
		case len(parts) == 6 && parts[4] == "frames":
			e, err := h.find(r.Context(), parts[:4])
			if err != nil {
				return err
			}
			return h.serveFrame(w, r, e, parts[5])
		}
	}
	return notFound("not found")
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request, name string) error {
	b, ok := h.static[name] // only the embedded names: nothing else reaches a file system
	if !ok {
		return notFound("not found")
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, h.start, bytes.NewReader(b))
	return nil
}

// sessionJSON is one session in /api/sessions.
type sessionJSON struct {
	recordings.Row
	URL string `json:"url"` // the session's API path
	// Gaps is the number of runs of missing frames, once the session's
	// segments were read (absent for an ended session described by its
	// catalog entry or end record: see gap_frames).
	Gaps  *int   `json:"gaps,omitempty"`
	Error string `json:"error,omitempty"`
}

func sessionURL(e *entry) string {
	parts := []string{e.store.Name(), e.sess.Game, e.sess.Player, e.sess.ID}
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/api/sessions/" + strings.Join(parts, "/")
}

func rowOf(e *entry) sessionJSON {
	row := sessionJSON{Row: e.row, URL: sessionURL(e)}
	if row.Session == "" { // not described (the store failed)
		row.Row = recordings.Row{Session: e.sess.Ref(), Sink: e.store.Name(), Game: e.sess.Game, Player: e.sess.Player, ID: e.sess.ID, Damage: []recordings.Kind{}}
	}
	row.Live = !row.Ended && recordings.IsLive(e.sess, time.Now())
	e.mu.Lock()
	hasSum, problems := e.hasSum, e.sum.Problems
	e.mu.Unlock()
	if hasSum {
		gaps := e.gaps()
		n := len(gaps)
		row.Gaps = &n
		row.Damage = append([]recordings.Kind{}, recordings.DamageKinds(problems, gaps)...)
	}
	if e.err != nil {
		row.Error = e.err.Error()
	}
	return row
}

func (h *Handler) serveSessions(w http.ResponseWriter, r *http.Request) error {
	l, err := h.listing(r.Context())
	if err != nil {
		return err
	}
	rows := make([]sessionJSON, 0, len(l.entries))
	for _, e := range l.entries {
		rows = append(rows, rowOf(e))
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, rows)
}

type frameJSON struct {
	Seq uint64  `json:"seq"`
	T   float64 `json:"t"` // milliseconds since the first stored frame
	Key bool    `json:"key,omitempty"`
}

// gapJSON is a run of frames that are not there, and why: kind is
// "dropped" (by the game while recording) or a kind of damage (missing,
// foreign, misnumbered, zero-length, truncated, crc, corrupt, version).
type gapJSON struct {
	From    uint64 `json:"from"`
	To      uint64 `json:"to"`
	Kind    string `json:"kind"`
	Damaged bool   `json:"damaged"`
	Segment string `json:"segment,omitempty"` // the segment's key
	Reason  string `json:"reason"`            // kind and what was found, for people
}

func gapOf(g recordings.Gap) gapJSON {
	return gapJSON{From: g.From, To: g.To, Kind: string(g.Kind), Damaged: g.Kind.Damaged(), Segment: g.Segment, Reason: g.Reason()}
}

type summaryJSON struct {
	Session         sessionJSON `json:"session"`
	Width           int         `json:"width"`
	Height          int         `json:"height"`
	FirstSeq        uint64      `json:"first_seq"`
	LastSeq         uint64      `json:"last_seq"`
	Frames          []frameJSON `json:"frames"`
	Gaps            []gapJSON   `json:"gaps"`
	Problems        []string    `json:"problems"`
	MissingSegments []uint64    `json:"missing_segments"`
	FrameURL        string      `json:"frame_url"` // append SEQ.png
	Segments        int         `json:"segments"`  // segments stored so far
}

// serveSummary answers the summary of e's session. For a session still
// recording it lists the session again first (refreshLive), so a viewer
// following it sees new segments within liveCheckInterval; from (the query
// parameter) leaves out the frames before it, which a follower has.
func (h *Handler) serveSummary(w http.ResponseWriter, r *http.Request, e *entry) error {
	if e.err != nil {
		return e.err
	}
	e, err := h.refreshLive(r.Context(), e)
	if err != nil {
		return err
	}
	sum, err := e.summary(r.Context())
	if err != nil {
		return err
	}
	var from uint64
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = strconv.ParseUint(v, 10, 64); err != nil {
			return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf("from=%q: want a frame number", v)}
		}
	}
	gaps := e.gaps()
	out := summaryJSON{Session: rowOf(e), Width: sum.Width, Height: sum.Height, FirstSeq: sum.FirstSeq, LastSeq: sum.LastSeq,
		Frames: []frameJSON{}, Gaps: make([]gapJSON, len(gaps)),
		Problems: []string{}, FrameURL: sessionURL(e) + "/frames/", MissingSegments: sum.MissingSegments,
		Segments: len(e.sess.Segments)}
	for _, f := range sum.Index {
		if f.Seq < from {
			continue
		}
		ms := float64(f.Time.Sub(sum.Start).Microseconds()) / 1000
		out.Frames = append(out.Frames, frameJSON{Seq: f.Seq, T: ms, Key: f.Key})
	}
	for i, g := range gaps {
		out.Gaps[i] = gapOf(g)
	}
	for _, p := range sum.Problems {
		out.Problems = append(out.Problems, p.String())
	}
	if out.MissingSegments == nil {
		out.MissingSegments = []uint64{}
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, out)
}

// parseSeq accepts a frame number as plain decimal digits followed by
// ".png": no sign, no spaces, no other base.
func parseSeq(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".png")
	if !ok || digits == "" || len(digits) > 20 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil
}

func (h *Handler) serveFrame(w http.ResponseWriter, r *http.Request, e *entry, name string) error {
	if e.err != nil {
		return e.err
	}
	seq, ok := parseSeq(name)
	if !ok {
		return notFound("bad frame %q: want FRAME.png with FRAME a frame number", name)
	}
	sum, err := e.summary(r.Context())
	if err != nil {
		return err
	}
	if !hasFrame(sum, seq) && !e.row.Ended {
		// A live session may have stored it since the last look.
		if e, err = h.refreshLive(r.Context(), e); err != nil {
			return err
		}
		if sum, err = e.summary(r.Context()); err != nil {
			return err
		}
	}
	if !hasFrame(sum, seq) {
		if g, ok := recordings.GapAt(e.gaps(), seq); ok {
			return gapError(e, seq, g)
		}
		return notFound("frame %d is not stored in %s (frames %d-%d, %d stored, %d gaps)", seq, e.sess.Ref(), sum.FirstSeq, sum.LastSeq, sum.Frames, len(sum.Gaps))
	}
	or, err := h.reader(e, sum)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	or.mu.Lock()
	f, err := or.fr.Frame(r.Context(), seq)
	if err == nil {
		buf.Grow(len(f.Image.Pix) / 4)
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		err = enc.Encode(&buf, f.Image)
	}
	var d *recordings.Damage
	if errors.As(err, &d) {
		e.addDamage(or.fr.Damaged())
	}
	or.mu.Unlock()
	if d != nil {
		if g, ok := recordings.GapAt(e.gaps(), seq); ok {
			return gapError(e, seq, g)
		}
		return &httpError{code: http.StatusNotFound, msg: d.Error()}
	}
	if err != nil {
		if errors.Is(err, recordings.ErrNoFrame) {
			return notFound("%v", err)
		}
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "image/png")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	hdr.Set("Cache-Control", "private, max-age=31536000, immutable")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
	return nil
}

// gapError answers a request for frame seq, which is in gap g: a 404 that
// says why the frame is not there and carries the gap.
func gapError(e *entry, seq uint64, g recordings.Gap) error {
	gj := gapOf(g)
	what := "missing from the recording"
	if g.Kind.Damaged() {
		what = "damaged"
	}
	return &httpError{code: http.StatusNotFound, gap: &gj,
		msg: fmt.Sprintf("frame %d of %s is %s (%s, in the gap of %s): %s", seq, e.sess.Ref(), what, g.Kind, g, g.Reason())}
}

func hasFrame(sum recordings.Summary, seq uint64) bool {
	lo, hi := 0, len(sum.Index)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sum.Index[m].Seq < seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(sum.Index) && sum.Index[lo].Seq == seq
}

// find returns the listed session that parts (sink, game, player, id) name
// exactly.
func (h *Handler) find(ctx context.Context, parts []string) (*entry, error) {
	l, err := h.listing(ctx)
	if err != nil {
		return nil, err
	}
	e, ok := l.byKey[keyOf(parts[0], parts[1], parts[2], parts[3])]
	if !ok {
		return nil, notFound("no such session")
	}
	return e, nil
}

func keyOf(sink, game, player, id string) string {
	return strings.Join([]string{sink, game, player, id}, "\x00")
}

// listing returns the sessions of every store, listing them again when the
// last listing is older than ListTTL. Rows are reused while a session's
// objects are unchanged; an ended session is described by its catalog
// entry or end record (recordings.Describer), so a listing of many ended
// sessions costs the stores' List pages, not reads of every session.
func (h *Handler) listing(ctx context.Context) (*listing, error) {
	h.listMu.Lock()
	defer h.listMu.Unlock()
	if h.list != nil && time.Since(h.list.at) < h.opts.ListTTL {
		return h.list, nil
	}
	now := time.Now()
	l := &listing{at: now, byKey: map[string]*entry{}}
	summaries := map[string]*entry{}
	var todo []*entry
	describers := map[Store]*recordings.Describer{}
	for _, st := range h.stores {
		ss, err := recordings.List(ctx, st, st.Name(), "")
		if err != nil {
			return nil, err
		}
		describers[st] = recordings.NewDescriber(st, now)
		for _, s := range ss {
			key := keyOf(st.Name(), s.Game, s.Player, s.ID)
			if _, dup := l.byKey[key]; dup {
				continue // two sinks with one name: the first one's
			}
			sig := signature(s)
			e := h.reuse(key, st, s, sig)
			if e.sig == "" {
				e.sig = sig
				todo = append(todo, e)
			}
			l.entries = append(l.entries, e)
			l.byKey[key] = e
			summaries[key] = e
		}
	}
	// Rows of sessions without a catalog entry or a summarized end record
	// cost a few ranged Gets per segment: describe a few at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, e := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() {
				if v := recover(); v != nil {
					e.err = fmt.Errorf("describe %s: panic: %v", e.sess.Ref(), v)
				}
				<-sem
				wg.Done()
			}()
			e.err = e.describe(ctx, describers[e.store])
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && len(todo) > 0 {
		return nil, err
	}
	h.list, h.summary = l, summaries
	return l, nil
}

// reuse returns the last listing's entry for the session when its objects
// are unchanged, else a new entry to describe (sig "") that keeps the old
// one's segment cache.
func (h *Handler) reuse(key string, st Store, s *recordings.Session, sig string) *entry {
	prev := h.summary[key]
	if prev != nil && prev.sig == sig && prev.err == nil {
		return prev
	}
	e := &entry{store: st, sess: s, cache: &recordings.SegmentCache{}}
	if prev != nil {
		e.cache = prev.cache
	}
	return e
}

// describe makes e's row: from the catalog or end record when they can be
// trusted, else from the summary (kept for when the session is opened).
func (e *entry) describe(ctx context.Context, d *recordings.Describer) error {
	row, ok, err := d.Row(ctx, e.sess)
	if err != nil {
		return err
	}
	if !ok {
		sum, err := e.summary(ctx)
		if err != nil {
			return err
		}
		row = d.NewRow(e.sess, sum)
	}
	e.row = row
	return nil
}

// liveCheckInterval is how often the summary of a live session is brought
// up to date by listing that one session again: the viewer following it
// polls faster than the whole listing is renewed (ListTTL).
const liveCheckInterval = 150 * time.Millisecond

// refreshLive lists e's session again when it has no end record and was
// last listed over liveCheckInterval ago, and returns the entry that now
// describes it (e itself when nothing changed). Its new segments are read,
// not the ones already summarized.
func (h *Handler) refreshLive(ctx context.Context, e *entry) (*entry, error) {
	if e.row.Ended || e.err != nil {
		return e, nil
	}
	e.mu.Lock()
	fresh := time.Since(e.checked) < h.liveCheck
	if !fresh {
		e.checked = time.Now()
	}
	e.mu.Unlock()
	if fresh {
		return e, nil
	}
	ss, err := recordings.List(ctx, e.store, e.store.Name(), e.sess.Prefix())
	if err != nil {
		return nil, err
	}
	var s *recordings.Session
	for _, x := range ss {
		if x.ID == e.sess.ID && x.Game == e.sess.Game && x.Player == e.sess.Player {
			s = x
		}
	}
	if s == nil {
		return e, nil // gone (deleted): the next listing says
	}
	sig := signature(s)
	if sig == e.sig {
		return e, nil
	}
	key := keyOf(e.store.Name(), s.Game, s.Player, s.ID)
	ne := &entry{store: e.store, sess: s, sig: sig, cache: e.cache, checked: time.Now()}
	if err := ne.describe(ctx, recordings.NewDescriber(e.store, time.Now())); err != nil {
		return nil, err
	}
	if _, err := ne.summary(ctx); err != nil {
		return nil, err
	}
	// The listing is shared by requests in flight: replace it, do not
	// change it.
	h.listMu.Lock()
	defer h.listMu.Unlock()
	if h.list != nil {
		if cur := h.list.byKey[key]; cur == e {
			l := &listing{at: h.list.at, entries: slices.Clone(h.list.entries), byKey: maps.Clone(h.list.byKey)}
			for i, x := range l.entries {
				if x == e {
					l.entries[i] = ne
				}
			}
			l.byKey[key] = ne
			h.list = l
			h.summary = maps.Clone(h.summary)
			h.summary[key] = ne
		} else if cur != nil {
			return cur, nil // another request got there first
		}
	}
	return ne, nil
}

// signature is what a session's row depends on: its objects' keys and
// sizes (the end record's too: its arrival ends a live session).
func signature(s *recordings.Session) string {
	var b strings.Builder
	for _, seg := range s.Segments {
		fmt.Fprintf(&b, "%s %d\n", seg.Key, seg.Size)
	}
	fmt.Fprintf(&b, "%s %d\n", s.Manifest.Key, s.Manifest.Size)
	return b.String()
}

// reader returns the frame reader of e's session, opening it (and closing
// the least recently used beyond MaxOpen) when needed.
func (h *Handler) reader(e *entry, sum recordings.Summary) (*openReader, error) {
	key := keyOf(e.store.Name(), e.sess.Game, e.sess.Player, e.sess.ID)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, &httpError{code: http.StatusServiceUnavailable, msg: "the viewer is shutting down"}
	}
	h.clock++
	var evict []*openReader
	or := h.open[key]
	// The session changed (a live recording grew): the reader moves on; a
	// request holding an older entry uses the newer reader as it is.
	if or != nil && or.e != e && len(e.sess.Segments) >= len(or.e.sess.Segments) {
		or.mu.Lock()
		or.fr.Grow(e.sess, sum)
		or.e = e
		or.mu.Unlock()
	}
	if or == nil {
		or = &openReader{e: e, fr: recordings.NewFrameReader(e.store, e.sess, sum)}
		h.open[key] = or
	}
	or.used = h.clock
	for len(h.open) > h.opts.MaxOpen {
		var lk string
		var lru *openReader
		for k, o := range h.open {
			if lru == nil || o.used < lru.used {
				lk, lru = k, o
			}
		}
		delete(h.open, lk)
		evict = append(evict, lru)
	}
	h.mu.Unlock()
	for _, o := range evict {
		o.mu.Lock()
		o.fr.Close()
		o.mu.Unlock()
	}
	return or, nil
}

func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, code int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
	return nil
}

func writeError(w http.ResponseWriter, e *httpError) {
	w.Header().Set("Cache-Control", "no-store")
	body := map[string]any{"error": e.msg, "status": e.code}
	if e.gap != nil {
		body["gap"] = e.gap
	}
	writeJSON(w, e.code, body)
}

// statusWriter remembers whether a response was started.
type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

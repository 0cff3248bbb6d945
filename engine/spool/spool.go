package spool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// Sink is one destination of spooled items: in the engine an sdk host
// client for one configured plugin, in tests an in-process fake. Put has
// sdk.Backend's contract: a failed or cancelled Put leaves no object (or
// the previous one) behind, and errors are classified with sdk.IsRetryable.
type Sink interface {
	Name() string
	Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error)
}

// Kind says what an item is, which decides how it is treated under the
// size cap and on a failed precondition.
type Kind int

const (
	// KindSegment is a segment of captured frames: evictable under the cap.
	KindSegment Kind = iota
	// KindSave is game data: never evicted; a failed precondition goes to
	// Options.OnConflict.
	KindSave
	// KindRecord is a small record that goes with segments (a session's
	// end record): delivered in order with them, never evicted, and
	// written from the reserve when the disk is full.
	KindRecord
)

func (k Kind) String() string {
	switch k {
	case KindSegment:
		return "segment"
	case KindSave:
		return "save"
	case KindRecord:
		return "record"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Item is one blob to deliver to every sink under Key.
type Item struct {
	Key  string
	Kind Kind
	// Data is the payload. When Body is non-nil it is read to EOF instead
	// and Data is ignored.
	Data []byte
	Body io.Reader
	// Opts are passed to every sink's Put; Size is set to the payload
	// length by the spool.
	Opts sdk.PutOptions

	journal string // the open/ journal this item completes (Journal.Commit)
}

// Resolution is what OnConflict decides about a save whose conditional put
// failed at one sink.
type Resolution int

const (
	// Park keeps the item parked for that sink (listed by Failed) until
	// Requeue or Discard.
	Park Resolution = iota
	// Resolved counts the item as done for that sink, as if delivered; the
	// payload is deleted once no other sink needs it.
	Resolved
)

// Conflict describes a save that a sink refused with sdk.ErrPreconditionFailed.
type Conflict struct {
	Sink string
	ID   uint64
	Key  string
	Opts sdk.PutOptions
	Data []byte // the payload (saves are small)
	Err  error
}

// Options tune a Spool. The zero value is usable.
type Options struct {
	// MaxBytes caps the payload bytes kept on disk; 0 means no cap. Over
	// the cap the oldest KindSegment items are evicted (for every sink that
	// still needs them) until the total fits again; KindSave items are
	// never evicted, so saves may push the total over the cap.
	MaxBytes int64
	// MinBackoff and MaxBackoff bound the exponential backoff (with
	// jitter) between attempts of a retryable failure; defaults 200 ms and
	// 30 s.
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one Put; 0 means no limit beyond Close.
	AttemptTimeout time.Duration
	// Retryable classifies a Put error; nil means DefaultRetryable.
	Retryable func(error) bool
	// OnConflict is called (from the sink's delivery goroutine, no lock
	// held; it may call Accept) when a KindSave item fails at a sink with
	// sdk.ErrPreconditionFailed. Nil parks the item.
	OnConflict func(Conflict) Resolution
	// Logger receives warnings (evictions, parked items, retries); nil
	// means slog.Default().
	Logger *slog.Logger
	// OnEvict, when set, is told of every segment evicted (under the cap
	// or for room on a full disk), with s's lock held: it must not call
	// the Spool.
	OnEvict func(key string, fullDisk bool)
	// ReserveBytes is the size of the reserve file the spool keeps so that
	// saves and records can still be written when the disk is full: it is
	// deleted to make room for them and made again once there is room.
	// 0 means 1 MiB; negative, none.
	ReserveBytes int64
}

// DefaultRetryable reports whether a failed Put is worth another attempt:
// errors a backend marked retryable (sdk.IsRetryable); a deadline that
// expired (Options.AttemptTimeout, or a timeout inside the Sink); and errors
// that are not typed by a backend at all (no *sdk.Error in the chain) —
// these come from the transport (a broken connection, a crashed plugin),
// not from the storage's verdict. Typed, unmarked errors (invalid key,
// precondition failed, permanent) are final. A Sink that knows better (for
// example that its plugin is being restarted) should return a retryable
// sdk.Error, or the engine should set Options.Retryable.
func DefaultRetryable(err error) bool {
	if sdk.IsRetryable(err) {
		return true
	}
	if errors.Is(err, sdk.ErrPreconditionFailed) || errors.Is(err, sdk.ErrInvalidKey) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var se *sdk.Error
	return !errors.As(err, &se)
}

// Errors returned by the Spool.
var (
	ErrClosed = errors.New("spool: closed")
	ErrLocked = errors.New("spool: directory in use by another spool")
	ErrNoItem = errors.New("spool: no such parked item")
	// ErrFull: the disk under the spool has no room for the item, even
	// after evicting every older segment (for a segment) or using the
	// reserve (for a save or record).
	ErrFull = errors.New("spool: disk full")
)

// FailedItem is an item parked for one sink.
type FailedItem struct {
	Sink     string
	ID       uint64
	Key      string
	Kind     Kind
	Size     int64
	Err      string
	Conflict bool // parked after a failed precondition (a save conflict)
	Parked   time.Time
}

// SinkStats are one sink's counters. Pending counts include the item in
// flight and exclude parked ones. Counters other than Pending, PendingBytes
// and Parked count since Open.
type SinkStats struct {
	Name           string
	Active         bool // configured now; false for a sink only found on disk
	Pending        int
	PendingBytes   int64
	Delivered      int64
	DeliveredBytes int64
	Retries        int64
	Failed         int64 // permanent failures (items parked)
	Conflicts      int64
	Parked         int // items parked now
	Evicted        int64
	// Superseded counts records dropped for this sink, undelivered,
	// because a newer record of the same key was accepted.
	Superseded int64
	LastError  string
	// Down: the last attempt failed retryably, since DownSince. Outages
	// counts the times the sink went down since Open.
	Down      bool
	DownSince time.Time
	Outages   int64
}

// Stats describe the spool as a whole and per sink.
type Stats struct {
	Items        int   // payloads on disk
	Bytes        int64 // their payload bytes
	Evicted      int64 // items evicted under the cap since Open
	EvictedBytes int64
	Corrupt      int64 // payload files set aside on Open
	Refused      int64 // segments refused since Open: no room on the disk (ErrFull)
	RefusedBytes int64
	Full         bool        // the last Accept found the disk full
	Sinks        []SinkStats // sorted by name
}

// item is a committed payload in memory.
type item struct {
	id       uint64
	key      string
	kind     Kind
	opts     sdk.PutOptions
	size     int64
	offset   int64
	path     string
	sinks    []string        // sinks named in the header
	need     map[string]bool // sinks that do not have it yet (queued or parked)
	accepted time.Time
	gone     bool   // payload removed (delivered everywhere or evicted)
	journal  string // name of the open/ journal it completes, if any
	// superseded names the sinks for which a newer record of this key was
	// accepted while this one was in flight there: whatever that Put
	// does, it is not retried or parked (see supersedeLocked).
	superseded map[string]bool
}

type sinkState struct {
	// Outage bookkeeping, owned by the sink's delivery goroutine:
	// backlogID is the newest item queued when the sink came back, and
	// the "back" line is logged once it is delivered.
	upAt       time.Time
	downFor    time.Duration
	backlogID  uint64
	backlogN   int
	backlogB   int64
	recovering bool

	name  string
	sink  Sink // nil when the sink is only known from disk
	dir   string
	queue []*item // pending, in ID order
	// inflight is the item the delivery goroutine is putting now (under
	// s.mu), which supersedeLocked must not take out of the queue.
	inflight *item
	parked   map[uint64]*parked
	wake     chan struct{}
	st       SinkStats
}

type parked struct {
	it  *item
	rec parkRecord
}

// Spool is the on-disk journal of items for a set of sinks. Its methods
// are safe for concurrent use.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File

	acceptMu sync.Mutex // serializes Accept: IDs are assigned in commit order

	mu      sync.Mutex
	nextID  uint64
	items   map[uint64]*item
	order   []*item // all live items, in ID order (eviction scans it)
	bytes   int64
	sinks   map[string]*sinkState
	active  []*sinkState
	evicted int64
	evBytes int64
	corrupt int64
	closed  bool

	// The disk-full state, under acceptMu: full since the first refusal
	// or eviction for room, until an Accept succeeds without either.
	full      bool
	fullSince time.Time
	fullLost  int64 // segments refused or evicted for room while full
	// fullMaxItem is the largest item written while full: the disk has
	// room again once twice that (and the reserve) is free.
	fullMaxItem int64
	refused     atomic.Int64
	refBytes    atomic.Int64
	fullNow     atomic.Bool
	// reserveOK: the reserve file exists (under acceptMu).
	reserveOK bool

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	unlockMu sync.Mutex
	unlocked bool
}

var sinkNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Open opens (creating it if needed) the spool in dir, replays what is on
// disk — items some sink has not received yet, parked items, and the
// leftovers of a crash — and starts one delivery goroutine per sink. Sink
// names must be unique and match [A-Za-z0-9][A-Za-z0-9._-]*.
func Open(dir string, sinks []Sink, opts Options) (*Spool, error) {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.Retryable == nil {
		opts.Retryable = DefaultRetryable
	}
	s := &Spool{
		dir:   dir,
		opts:  opts,
		log:   opts.Logger,
		items: map[uint64]*item{},
		sinks: map[string]*sinkState{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "spool", "dir", dir)
	for _, sk := range sinks {
		name := sk.Name()
		if !sinkNameRE.MatchString(name) {
			return nil, fmt.Errorf("spool: invalid sink name %q", name)
		}
		if _, dup := s.sinks[name]; dup {
			return nil, fmt.Errorf("spool: duplicate sink name %q", name)
		}
		ss := newSinkState(dir, name, sk)
		s.sinks[name] = ss
		s.active = append(s.active, ss)
	}
	for _, d := range []string{dir, filepath.Join(dir, dirTmp), filepath.Join(dir, dirData), filepath.Join(dir, dirSinks), filepath.Join(dir, dirCorrupt), filepath.Join(dir, dirOpen)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("spool: open: %w", err)
		}
	}
	for _, ss := range s.active {
		if err := os.MkdirAll(ss.dir, 0o755); err != nil {
			return nil, fmt.Errorf("spool: open: %w", err)
		}
	}
	lock, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.replay(); err != nil {
		unlockDir(lock)
		return nil, fmt.Errorf("spool: replay %s: %w", dir, err)
	}
	s.mu.Lock()
	s.evictLocked(0)
	s.mu.Unlock()
	s.ensureReserve()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, ss := range s.active {
		s.wg.Add(1)
		go s.run(ss)
	}
	s.recoverJournals()
	return s, nil
}

func newSinkState(dir, name string, sk Sink) *sinkState {
	return &sinkState{
		name:   name,
		sink:   sk,
		dir:    filepath.Join(dir, dirSinks, name),
		parked: map[uint64]*parked{},
		wake:   make(chan struct{}, 1),
		st:     SinkStats{Name: name, Active: sk != nil},
	}
}

// replay rebuilds the in-memory state from disk. It runs before any
// goroutine starts, so it needs no lock.
func (s *Spool) replay() error {
	// 1. Payloads that were never committed: the writer died before rename.
	tmp := filepath.Join(s.dir, dirTmp)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range ents {
		s.log.Info("spool: removing uncommitted payload", "file", e.Name())
		if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
			return err
		}
	}
	// 2. Markers of every sink directory, configured or not.
	done := map[string]map[uint64]bool{}
	parks := map[string]map[uint64]parkRecord{}
	sdirs, err := os.ReadDir(filepath.Join(s.dir, dirSinks))
	if err != nil {
		return err
	}
	var maxID uint64
	for _, sd := range sdirs {
		if !sd.IsDir() || !sinkNameRE.MatchString(sd.Name()) {
			continue
		}
		name := sd.Name()
		done[name], parks[name] = map[uint64]bool{}, map[uint64]parkRecord{}
		ms, err := os.ReadDir(filepath.Join(s.dir, dirSinks, name))
		if err != nil {
			return err
		}
		for _, m := range ms {
			if id, ok := parseID(m.Name(), extDone); ok {
				done[name][id] = true
				maxID = max(maxID, id)
			} else if id, ok := parseID(m.Name(), extParked); ok {
				rec := parkRecord{Err: "parked (reason unreadable)"}
				if b, err := os.ReadFile(filepath.Join(s.dir, dirSinks, name, m.Name())); err == nil {
					_ = json.Unmarshal(b, &rec)
				}
				parks[name][id] = rec
				maxID = max(maxID, id)
			}
		}
	}
	// 3. Committed payloads, in ID order.
	data := filepath.Join(s.dir, dirData)
	ents, err = os.ReadDir(data) // sorted by name = by ID
	if err != nil {
		return err
	}
	live := map[uint64]bool{}
	for _, e := range ents {
		id, ok := parseID(e.Name(), extItem)
		if !ok {
			continue
		}
		maxID = max(maxID, id)
		path := filepath.Join(data, e.Name())
		h, size, off, err := readPayloadFile(path)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				return err
			}
			s.corrupt++
			dst := filepath.Join(s.dir, dirCorrupt, fmt.Sprintf("%s.%d", e.Name(), time.Now().UnixNano()))
			s.log.Error("spool: setting aside a corrupt payload file", "file", path, "to", dst, "err", err)
			if err := os.Rename(path, dst); err != nil {
				return err
			}
			continue
		}
		h.Opts.Size = size
		it := &item{id: id, key: h.Key, kind: h.Kind, opts: h.Opts, size: size, offset: off, journal: h.Journal,
			path: path, sinks: h.Sinks, need: map[string]bool{}, accepted: h.Accepted}
		for _, name := range h.Sinks {
			if !done[name][id] {
				it.need[name] = true
			}
		}
		if len(it.need) == 0 {
			s.removePayload(it) // delivered everywhere; the process died before deleting it
			continue
		}
		live[id] = true
		s.items[id] = it
		s.order = append(s.order, it)
		s.bytes += size
		for _, name := range slices.Sorted(maps.Keys(it.need)) {
			ss := s.sinks[name]
			if ss == nil {
				ss = newSinkState(s.dir, name, nil)
				s.sinks[name] = ss
				s.log.Warn("spool: items pending for a sink that is not configured; kept on disk", "sink", name)
			}
			if rec, ok := parks[name][id]; ok {
				ss.parked[id] = &parked{it: it, rec: rec}
				continue
			}
			ss.queue = append(ss.queue, it)
			ss.st.Pending++
			ss.st.PendingBytes += size
		}
	}
	// 4. Markers whose payload is gone: make the deletions durable first, so
	//    a marker never disappears before its payload does.
	if err := syncDir(data); err != nil {
		return err
	}
	for name := range done {
		for id := range done[name] {
			if !live[id] {
				os.Remove(filepath.Join(s.dir, dirSinks, name, idName(id, extDone)))
			}
		}
		for id := range parks[name] {
			if !live[id] {
				os.Remove(filepath.Join(s.dir, dirSinks, name, idName(id, extParked)))
			}
		}
	}
	// 5. Two versions of one record pending (a crash between committing
	//    the newer one and superseding the older): the newest wins, as in
	//    Accept.
	newest := map[string]*item{}
	versions := map[string]int{}
	for _, it := range s.order {
		if it.kind == KindRecord {
			newest[it.key] = it // s.order ascends by ID: the last one wins
			versions[it.key]++
		}
	}
	for key, it := range newest {
		if versions[key] > 1 {
			s.supersedeLocked(it)
		}
	}
	s.nextID = maxID + 1
	return nil
}

// Accept stores item durably in the spool — payload written to a temporary
// file, fsynced, renamed into place, directory fsynced — and returns nil
// only then; from that moment the item will reach every sink configured
// now, across restarts, unless it is a segment evicted under the cap.
// Accept does local disk I/O only and never waits for a sink.
func (s *Spool) Accept(ctx context.Context, it Item) error {
	if err := sdk.ValidateKey(it.Key); err != nil {
		return fmt.Errorf("spool: accept: %w", err)
	}
	if it.Kind != KindSegment && it.Kind != KindSave && it.Kind != KindRecord {
		return fmt.Errorf("spool: accept %s: unknown kind %d", it.Key, it.Kind)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.acceptMu.Lock()
	defer s.acceptMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	id := s.nextID
	s.nextID++
	names := make([]string, len(s.active))
	for i, ss := range s.active {
		names[i] = ss.name
	}
	s.mu.Unlock()

	now := time.Now()
	h := header{Key: it.Key, Kind: it.Kind, Opts: it.Opts, Sinks: names, Accepted: now, Journal: it.journal}
	tmp := filepath.Join(s.dir, dirTmp, idName(id, extTmp))
	final := filepath.Join(s.dir, dirData, idName(id, extItem))
	size, off, err := s.write(ctx, tmp, final, h, it)
	madeRoom := false
	for err != nil && isNoSpace(err) {
		// No room: make some and write again. A save or record may use
		// the reserve; then older segments go, oldest first (never this
		// one, never saves or records). The body of a streamed item is
		// partly consumed: only Data can be written again.
		if it.Body != nil || !s.makeRoom(it.Kind, it.Key) {
			if it.Kind == KindSegment {
				s.refused.Add(1)
				s.refBytes.Add(int64(len(it.Data)))
			}
			s.fullLost++
			s.noteFull(it.Key)
			return fmt.Errorf("spool: accept %s: %w (%v): free space on the disk of %s", it.Key, ErrFull, err, s.dir)
		}
		madeRoom = true
		size, off, err = s.write(ctx, tmp, final, h, it)
	}
	if err != nil {
		return fmt.Errorf("spool: accept %s: %w", it.Key, err)
	}
	if madeRoom {
		s.noteFull(it.Key)
		s.fullMaxItem = max(s.fullMaxItem, size)
	} else {
		s.noteRoom()
	}

	opts := it.Opts
	opts.Size = size
	rec := &item{id: id, key: it.Key, kind: it.Kind, opts: opts, size: size, offset: off, journal: it.journal,
		path: final, sinks: names, need: map[string]bool{}, accepted: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(names) == 0 {
		s.removePayload(rec)
		return nil
	}
	s.items[id] = rec
	s.order = append(s.order, rec)
	s.bytes += size
	for _, name := range names {
		ss := s.sinks[name]
		rec.need[name] = true
		ss.queue = append(ss.queue, rec)
		ss.st.Pending++
		ss.st.PendingBytes += size
		ss.poke()
	}
	if rec.kind == KindRecord {
		s.supersedeLocked(rec)
	}
	s.evictLocked(id)
	return nil
}

// supersedeLocked drops, for every sink rec is for, the older records of
// rec's key that sink has not received yet (queued or parked): a record
// (a catalog, say) is replaced whole by its newer version, so delivering
// the older one is wasted at best, and at worst — parked, then requeued
// after the newer one was delivered, since a requeued item keeps its
// place by ID — it would overwrite the newer one. An older record in
// flight is marked instead: the delivery goroutine neither retries nor
// parks it, and the newer one, behind it in the queue, follows. So each
// sink ends up holding the newest version accepted. s.mu is held.
func (s *Spool) supersedeLocked(rec *item) {
	for name := range rec.need {
		ss := s.sinks[name]
		var older []*item
		for _, q := range ss.queue {
			if q.id < rec.id && q.kind == KindRecord && q.key == rec.key {
				older = append(older, q)
			}
		}
		for id, p := range ss.parked {
			if id < rec.id && p.it.kind == KindRecord && p.it.key == rec.key {
				older = append(older, p.it)
			}
		}
		for _, old := range older {
			if old == ss.inflight {
				if old.superseded == nil {
					old.superseded = map[string]bool{}
				}
				old.superseded[name] = true
				continue
			}
			if _, ok := ss.parked[old.id]; ok {
				delete(ss.parked, old.id)
				os.Remove(filepath.Join(ss.dir, idName(old.id, extParked)))
			} else {
				ss.dropQueued(old)
			}
			ss.st.Superseded++
			s.log.Debug("spool: record superseded by a newer one of its key", "sink", name, "key", old.key, "id", old.id, "by", rec.id)
			delete(old.need, name)
			if len(old.need) == 0 {
				s.forgetLocked(old) // its markers go with it
				continue
			}
			// Another sink (one not configured now) still needs it: this
			// sink is done with it, durably, or a restart would queue it
			// again (replay supersedes it again, so that is only waste).
			if err := writeMarker(ss.dir, idName(old.id, extDone), nil); err != nil {
				s.log.Error("spool: recording a superseded record", "sink", name, "id", old.id, "err", err)
			}
		}
	}
}

// write commits one item file: payload to tmp, fsync, rename to final,
// fsync the directory. On failure nothing is left behind.
func (s *Spool) write(ctx context.Context, tmp, final string, h header, it Item) (size, off int64, err error) {
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, 0, err
	}
	body := it.Body
	if body != nil {
		body = ctxReader{ctx, body}
	}
	size, off, err = writePayload(f, h, it.Data, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(filepath.Join(s.dir, dirData))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return size, off, err
}

// isNoSpace reports a full disk (or an exhausted quota).
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// makeRoom frees space for an item of kind: the reserve for a save or a
// record, else the oldest segment not yet delivered everywhere (evicted
// for every sink, counted and logged). It reports whether anything was
// freed.
func (s *Spool) makeRoom(kind Kind, key string) bool {
	if kind != KindSegment && s.dropReserve() {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range s.order {
		if it.kind == KindSegment {
			s.evictOneLocked(it, true, "spool: the disk is full: evicting the oldest segment to make room for "+key)
			s.fullLost++
			return true
		}
	}
	return false
}

// noteFull logs once when the disk fills.
func (s *Spool) noteFull(key string) {
	if s.full {
		return
	}
	s.full, s.fullSince = true, time.Now()
	s.fullNow.Store(true)
	s.log.Warn("spool: the disk is full: the oldest segments are evicted to make room, and segments that still do not fit are dropped (counted, and listed in each session's end record), until there is room; free space there",
		"key", key)
}

// noteRoom ends the disk-full state after a successful Accept, logging
// once, and makes the reserve again when it is missing.
func (s *Spool) noteRoom() {
	if s.full {
		// An Accept that fit in the slack an eviction left is not room
		// yet: wait for space for two more such items and the reserve.
		if free, ok := freeBytes(s.dir); ok && free < 2*s.fullMaxItem+s.reserveSize() {
			return
		}
		s.log.Info("spool: the disk has room again; recording goes on",
			"full_for", time.Since(s.fullSince).Round(time.Millisecond), "segments_lost", s.fullLost)
		s.full, s.fullLost, s.fullMaxItem = false, 0, 0
		s.fullNow.Store(false)
	}
	s.ensureReserve()
}

// reserveName is the reserve file, in the spool's directory.
const reserveName = "reserve"

func (s *Spool) reserveSize() int64 {
	switch {
	case s.opts.ReserveBytes < 0:
		return 0
	case s.opts.ReserveBytes == 0:
		return 1 << 20
	}
	return s.opts.ReserveBytes
}

// ensureReserve makes the reserve file when it is missing (best effort:
// on a full disk it is made later).
func (s *Spool) ensureReserve() {
	n := s.reserveSize()
	if s.reserveOK || n == 0 {
		return
	}
	path := filepath.Join(s.dir, reserveName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		s.reserveOK = true
		return
	}
	if free, ok := freeBytes(s.dir); ok {
		n = min(n, free/8) // on a small disk, a small reserve
		if n < 4096 {
			return
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	zeros := make([]byte, 64<<10)
	for left := n; left > 0 && err == nil; left -= int64(len(zeros)) {
		_, err = f.Write(zeros[:min(left, int64(len(zeros)))])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return
	}
	s.reserveOK = true
}

// dropReserve deletes the reserve file, reporting whether there was one.
func (s *Spool) dropReserve() bool {
	if !s.reserveOK {
		return false
	}
	s.reserveOK = false
	return os.Remove(filepath.Join(s.dir, reserveName)) == nil
}

// ctxReader stops a Body copy when the Accept's context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (ss *sinkState) poke() {
	select {
	case ss.wake <- struct{}{}:
	default:
	}
}

// evictLocked evicts the oldest segments, other than the item keep, while
// the payload bytes exceed the cap. s.mu is held.
func (s *Spool) evictLocked(keep uint64) {
	if s.opts.MaxBytes <= 0 || s.bytes <= s.opts.MaxBytes {
		return
	}
	for _, it := range slices.Clone(s.order) {
		if s.bytes <= s.opts.MaxBytes {
			break
		}
		if it.kind != KindSegment || it.id == keep {
			continue
		}
		s.evictOneLocked(it, false, "spool: over the size cap, evicting the oldest segment")
	}
}

// evictOneLocked drops a segment for every sink that still needs it,
// counting and logging it.
// Evictions for room on a full disk log at debug level: noteFull says it
// once.
func (s *Spool) evictOneLocked(it *item, fullDisk bool, why string) {
	level := slog.LevelWarn
	if fullDisk {
		level = slog.LevelDebug
	}
	var lost []string
	for name := range it.need {
		ss := s.sinks[name]
		ss.st.Evicted++
		if _, ok := ss.parked[it.id]; ok {
			delete(ss.parked, it.id)
			os.Remove(filepath.Join(ss.dir, idName(it.id, extParked)))
		} else {
			ss.dropQueued(it)
		}
		lost = append(lost, name)
	}
	sort.Strings(lost)
	s.evicted++
	s.evBytes += it.size
	s.log.Log(context.Background(), level, why, "key", it.key, "id", it.id, "bytes", it.size, "sinks", lost,
		"spool_bytes", s.bytes, "max_bytes", s.opts.MaxBytes, "evicted_total", s.evicted)
	clear(it.need)
	s.forgetLocked(it)
	if s.opts.OnEvict != nil {
		s.opts.OnEvict(it.key, fullDisk)
	}
}

// dropQueued removes it from the sink's queue, if there.
func (ss *sinkState) dropQueued(it *item) {
	if i := slices.Index(ss.queue, it); i >= 0 {
		ss.queue = slices.Delete(ss.queue, i, i+1)
		ss.st.Pending--
		ss.st.PendingBytes -= it.size
	}
}

// forgetLocked drops an item no sink needs: from memory, then from disk.
func (s *Spool) forgetLocked(it *item) {
	if it.gone {
		return
	}
	delete(s.items, it.id)
	if i := slices.Index(s.order, it); i >= 0 {
		s.order = slices.Delete(s.order, i, i+1)
	}
	s.bytes -= it.size
	s.removePayload(it)
}

// removePayload deletes the payload file and then the item's markers; the
// payload goes first, so a crash in between leaves orphan markers (cleaned
// on Open), never an undelivered-looking payload.
func (s *Spool) removePayload(it *item) {
	it.gone = true
	if it.journal != "" {
		os.Remove(filepath.Join(s.dir, dirOpen, it.journal))
	}
	if err := os.Remove(it.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Error("spool: removing payload", "file", it.path, "err", err)
		return
	}
	for _, name := range it.sinks {
		dir := filepath.Join(s.dir, dirSinks, name)
		os.Remove(filepath.Join(dir, idName(it.id, extDone)))
		os.Remove(filepath.Join(dir, idName(it.id, extParked)))
	}
}

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Items: len(s.items), Bytes: s.bytes, Evicted: s.evicted, EvictedBytes: s.evBytes, Corrupt: s.corrupt,
		Refused: s.refused.Load(), RefusedBytes: s.refBytes.Load(), Full: s.fullNow.Load()}
	for _, ss := range s.sinks {
		x := ss.st
		x.Parked = len(ss.parked)
		st.Sinks = append(st.Sinks, x)
	}
	sort.Slice(st.Sinks, func(i, j int) bool { return st.Sinks[i].Name < st.Sinks[j].Name })
	return st
}

// Failed lists the items parked for some sink, by sink then ID.
func (s *Spool) Failed() []FailedItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []FailedItem
	for _, ss := range s.sinks {
		for _, p := range ss.parked {
			out = append(out, FailedItem{Sink: ss.name, ID: p.it.id, Key: p.it.key, Kind: p.it.kind,
				Size: p.it.size, Err: p.rec.Err, Conflict: p.rec.Conflict, Parked: p.rec.Parked})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Sink != out[j].Sink {
			return out[i].Sink < out[j].Sink
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Requeue puts an item parked for sink back into that sink's queue, in ID
// order, for another round of delivery.
func (s *Spool) Requeue(sink string, id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sinks[sink]
	if ss == nil || ss.parked[id] == nil {
		return fmt.Errorf("%w: sink %q id %d", ErrNoItem, sink, id)
	}
	if err := os.Remove(filepath.Join(ss.dir, idName(id, extParked))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: requeue: %w", err)
	}
	if err := syncDir(ss.dir); err != nil {
		return fmt.Errorf("spool: requeue: %w", err)
	}
	it := ss.parked[id].it
	delete(ss.parked, id)
	i, _ := slices.BinarySearchFunc(ss.queue, id, func(q *item, id uint64) int { return cmpU64(q.id, id) })
	ss.queue = slices.Insert(ss.queue, i, it)
	ss.st.Pending++
	ss.st.PendingBytes += it.size
	ss.poke()
	return nil
}

// Discard gives up an item parked for sink: it is recorded as done for that
// sink, and its payload is deleted once no sink needs it.
func (s *Spool) Discard(sink string, id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sinks[sink]
	if ss == nil || ss.parked[id] == nil {
		return fmt.Errorf("%w: sink %q id %d", ErrNoItem, sink, id)
	}
	if err := writeMarker(ss.dir, idName(id, extDone), nil); err != nil {
		return fmt.Errorf("spool: discard: %w", err)
	}
	os.Remove(filepath.Join(ss.dir, idName(id, extParked)))
	it := ss.parked[id].it
	delete(ss.parked, id)
	s.log.Warn("spool: parked item discarded", "sink", sink, "key", it.key, "id", id)
	delete(it.need, sink)
	if len(it.need) == 0 {
		s.forgetLocked(it)
	}
	return nil
}

// Close stops the delivery goroutines (cancelling Puts in flight) and
// waits for them until ctx ends. Undelivered items stay on disk for the
// next Open. Close is idempotent; after it Accept returns ErrClosed.
func (s *Spool) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.acceptMu.Lock() // let an Accept in progress finish its commit
	_ = s.closed      // (nothing to do under the lock: waiting for it is the point)
	s.acceptMu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("spool: close: delivery goroutines still running: %w", ctx.Err())
	}
	s.unlockMu.Lock()
	defer s.unlockMu.Unlock()
	if !s.unlocked {
		s.unlocked = true
		return unlockDir(s.lock)
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

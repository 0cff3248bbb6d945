package recordings

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// LiveWindow is how recently a session without an end record must have
// been written to for a listing to call it live: a recording closes a
// segment every capture.segment_seconds (2 s by default), so a session
// silent for longer than this, or for three of its own segment intervals
// if those are longer, has stopped without ending (the game crashed or was
// killed).
const LiveWindow = 15 * time.Second

// Describer makes the one-line descriptions (Rows) of the sessions of one
// listing of one store, reading as little as it can:
//
//   - an ended session its player's catalog lists, unchanged since (the
//     end record's size and the stored segments' numbers and sizes agree
//     with the listing, and none of them was written after the catalog):
//     no request at all, past one Get per catalog;
//   - an ended session whose end record carries its Stored summary, which
//     the listing agrees with: one Get, the end record;
//   - any other session (live, cut short, damaged, or written by an older
//     engine): its summary, from every segment's header and index.
//
// Safe for concurrent use.
type Describer struct {
	st  Store
	now time.Time

	mu       sync.Mutex
	catalogs map[string]*catalogFetch // by catalog key
}

type catalogFetch struct {
	once    sync.Once
	entries map[string]segment.CatalogEntry // by session id; nil when unusable
	err     error                           // the store failed
}

// NewDescriber describes sessions listed from st; now decides which
// sessions are live.
func NewDescriber(st Store, now time.Time) *Describer {
	return &Describer{st: st, now: now, catalogs: map[string]*catalogFetch{}}
}

// Row describes s. ok is false when it takes a summary (see Describer):
// then call Summarize and NewRow.
func (d *Describer) Row(ctx context.Context, s *Session) (row Row, ok bool, err error) {
	if s.Manifest.Key == "" {
		return Row{}, false, nil
	}
	for _, ref := range s.catalogs {
		e, found, err := d.catalogEntry(ctx, ref, s.ID)
		if err != nil {
			return Row{}, false, err
		}
		// Written after the catalog (a replaced end record or segment, of
		// the same size): the entry may be stale.
		newer := !ref.Modified.IsZero() && s.Modified.After(ref.Modified)
		if found && !newer && e.ManifestSize == s.Manifest.Size && storedMatches(s, e.Manifest.Stored) {
			return storedRow(s, &e.Manifest), true, nil
		}
	}
	m, p, err := s.readManifest(ctx, d.st)
	if err != nil || p != nil || m == nil || !storedMatches(s, m.Stored) {
		return Row{}, false, err
	}
	return storedRow(s, m), true, nil
}

// Describe is Row falling back to a summary.
func (d *Describer) Describe(ctx context.Context, s *Session) (Row, error) {
	row, ok, err := d.Row(ctx, s)
	if err != nil || ok {
		return row, err
	}
	sum, err := s.Summarize(ctx, d.st)
	if err != nil {
		return Row{}, err
	}
	return d.NewRow(s, sum), nil
}

// NewRow is the package's NewRow with Live decided at the describer's now.
func (d *Describer) NewRow(s *Session, sum Summary) Row {
	r := NewRow(s, sum)
	r.Live = !r.Ended && IsLive(s, d.now)
	return r
}

// IsLive reports whether s, which has no end record, was written to
// recently enough at now to be still recording (see LiveWindow).
func IsLive(s *Session, now time.Time) bool {
	if s.Manifest.Key != "" || s.Modified.IsZero() {
		return false
	}
	window := LiveWindow
	if n := len(s.Segments); n > 1 {
		first, last := s.Segments[0].Modified, s.Segments[n-1].Modified
		if !first.IsZero() && last.After(first) {
			if w := 3 * last.Sub(first) / time.Duration(n-1); w > window {
				window = w
			}
		}
	}
	return now.Sub(s.Modified) <= window
}

// storedMatches reports whether the listed segments of s are those st
// summarizes: same count, same numbers and sizes.
func storedMatches(s *Session, st *segment.Stored) bool {
	if st == nil || uint64(len(s.Segments)) != st.Segments {
		return false
	}
	sizes := make([]segment.SegmentSize, len(s.Segments))
	for i, ref := range s.Segments {
		sizes[i] = segment.SegmentSize{Index: ref.Index, Size: ref.Size}
	}
	return segment.SegmentsDigest(sizes) == st.Digest && st.Bytes == s.Bytes
}

// storedRow is the Row of an ended session from its end record, as NewRow
// would make it from the summary of its intact segments.
func storedRow(s *Session, m *segment.Manifest) Row {
	st := m.Stored
	r := Row{
		Session: s.Ref(), Sink: s.Sink, Game: s.Game, Player: s.Player, ID: s.ID,
		Start: m.Start, Frames: int(st.Frames), Width: m.Width, Height: m.Height,
		Segments: len(s.Segments), Bytes: s.Bytes, Ended: true, Damage: []Kind{}, Replay: m.Replay,
	}
	if st.Frames > 0 {
		r.Duration = st.LastFrame.Sub(st.FirstFrame).Seconds()
	}
	if m.Sequenced > st.Frames {
		r.GapFrames = m.Sequenced - st.Frames
	}
	return r
}

// catalogEntry returns the entry for session id in the catalog at ref,
// fetching the catalog once per describer. An unusable catalog has no
// entries: its sessions are read instead.
func (d *Describer) catalogEntry(ctx context.Context, ref SegmentRef, id string) (segment.CatalogEntry, bool, error) {
	d.mu.Lock()
	f := d.catalogs[ref.Key]
	if f == nil {
		f = &catalogFetch{}
		d.catalogs[ref.Key] = f
	}
	d.mu.Unlock()
	f.once.Do(func() {
		if ref.Size > 64<<20 {
			return // not a catalog this engine wrote
		}
		data, err := fetch(ctx, d.st, ref.Key, ref.Size)
		if err != nil {
			f.err = fmt.Errorf("catalog %s: %w", ref.Key, err)
			return
		}
		c, err := segment.ParseCatalog(data)
		if err != nil {
			return
		}
		game, player, _, _ := segment.ParseCatalogKey(ref.Key)
		if c.Game != game || c.Player != player {
			return
		}
		f.entries = make(map[string]segment.CatalogEntry, len(c.Sessions))
		for _, e := range c.Sessions {
			f.entries[e.Manifest.Session] = e
		}
	})
	if f.err != nil {
		return segment.CatalogEntry{}, false, f.err
	}
	e, ok := f.entries[id]
	return e, ok, nil
}

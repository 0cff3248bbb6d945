package recordings

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
)

// Deleter is a Store that can also delete objects: every sdk.Backend, the
// plugin client included.
type Deleter interface {
	Store
	Delete(ctx context.Context, key string) error
}

// Prefix is GAME/PLAYER/sessions/SESSION/, under which every object of the
// session is stored.
func (s *Session) Prefix() string { return segment.SessionPrefix(s.Game, s.Player, s.ID) }

// StoredBytes is what the session's segments and end record take in the
// sink.
func (s *Session) StoredBytes() int64 { return s.Bytes + s.Manifest.Size }

// Deleted says what Delete removed.
type Deleted struct {
	Objects int
	Bytes   int64
}

// Delete removes every object stored under the session's prefix — its
// segments, its end record, and anything else put there — through st, then
// lists the prefix again and fails if anything is left (an object written
// while deleting: a session still being recorded). The end record goes
// first, so a delete cut short leaves a session that lists as not ended
// rather than one whose end record vouches for segments that are gone.
func Delete(ctx context.Context, st Deleter, s *Session) (Deleted, error) {
	prefix := s.Prefix()
	var objs []sdk.ObjectInfo
	if err := st.List(ctx, prefix, func(o sdk.ObjectInfo) error { objs = append(objs, o); return nil }); err != nil {
		return Deleted{}, fmt.Errorf("list %s: %w", prefix, err)
	}
	manifest := segment.ManifestKey(prefix)
	slices.SortStableFunc(objs, func(a, b sdk.ObjectInfo) int {
		switch {
		case a.Key == manifest && b.Key != manifest:
			return -1
		case b.Key == manifest && a.Key != manifest:
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	var d Deleted
	for _, o := range objs {
		if err := st.Delete(ctx, o.Key); err != nil {
			return d, fmt.Errorf("delete %s (after %d of %d objects): %w", o.Key, d.Objects, len(objs), err)
		}
		d.Objects++
		d.Bytes += o.Size
	}
	var left []string
	if err := st.List(ctx, prefix, func(o sdk.ObjectInfo) error { left = append(left, o.Key); return nil }); err != nil {
		return d, fmt.Errorf("list %s after deleting: %w", prefix, err)
	}
	if len(left) > 0 {
		if len(left) > 3 {
			left = append(left[:3], "…")
		}
		return d, fmt.Errorf("%d objects are still under %s after deleting %d (written meanwhile? is the session still being recorded?): %s",
			len(left), prefix, d.Objects, strings.Join(left, ", "))
	}
	return d, nil
}

// idTime is the layout of the time at the start of a session id
// (segment.NewSessionID).
const idTime = "20060102T150405.000Z"

// StartOf is the start time a session id carries (ids sort by it); ok is
// false for an id not made by segment.NewSessionID.
func StartOf(id string) (time.Time, bool) {
	if len(id) < len(idTime) {
		return time.Time{}, false
	}
	t, err := time.Parse(idTime, id[:len(idTime)])
	return t, err == nil
}

// Age is what prune needs to know of a session.
type Age struct {
	Session *Session
	// Start is when the recording started: from the session id, else its
	// end record, else the sink's modification time.
	Start time.Time
	// Last is when the recording was last written: its end record's end
	// time, else the newest modification time the sink lists.
	Last  time.Time
	Ended bool  // the end record is there
	Bytes int64 // segments and end record
}

// AgeOf reads the session's end record (one small Get) for its times.
func AgeOf(ctx context.Context, st Store, s *Session) (Age, error) {
	a := Age{Session: s, Ended: s.Manifest.Key != "", Last: s.Modified, Bytes: s.StoredBytes()}
	m, _, err := s.readManifest(ctx, st)
	if err != nil {
		return Age{}, err
	}
	if m != nil && !m.End.IsZero() {
		a.Last = m.End
	}
	if t, ok := StartOf(s.ID); ok {
		a.Start = t
	} else if m != nil && !m.Start.IsZero() {
		a.Start = m.Start
	} else {
		a.Start = s.Modified
	}
	return a, nil
}

// Recording reports whether the session may still be being recorded: it
// has no end record and the sink wrote to it less than grace ago (or does
// not say when it did).
func (a Age) Recording(now time.Time, grace time.Duration) bool {
	if a.Ended {
		return false
	}
	return a.Session.Modified.IsZero() || now.Sub(a.Session.Modified) < grace
}

// PruneRules say which sessions prune deletes. A session is deleted when
// any rule picks it, unless it may still be being recorded.
type PruneRules struct {
	// OlderThan > 0 picks sessions last written longer ago than this.
	OlderThan time.Duration
	// Keep >= 0 picks all but the Keep newest sessions (by start) of each
	// game and player; -1: no such rule.
	Keep int
	// MaxBytes >= 0 picks the oldest sessions left until the rest takes at
	// most MaxBytes; -1: no such rule.
	MaxBytes int64
	Now      time.Time
	// Grace: a session without an end record written to less than Grace
	// ago is taken to be still recording and never deleted.
	Grace time.Duration
}

// Choice is one session prune picked, and why.
type Choice struct {
	Age
	Why  []string // the rules that picked it
	Skip string   // why it is kept after all ("" when deleted)
}

// PrunePlan is what prune will do with one sink's sessions.
type PrunePlan struct {
	Delete     []Choice // oldest first
	Skipped    []Choice // picked by a rule but still recording
	Kept       []Age    // everything not deleted, skipped ones included
	TotalBytes int64    // all sessions considered
	KeptBytes  int64    // what stays
	// OverBy is how far above MaxBytes what stays still is (only sessions
	// still recording are left to delete).
	OverBy int64
}

// DeleteBytes is what the plan frees.
func (p PrunePlan) DeleteBytes() int64 { return p.TotalBytes - p.KeptBytes }

// Plan applies the rules to ages (the sessions of one sink).
func Plan(ages []Age, r PruneRules) PrunePlan {
	ages = slices.Clone(ages)
	// Oldest first; ties by name so the plan is stable.
	slices.SortFunc(ages, func(a, b Age) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Session.Ref(), b.Session.Ref())
	})
	why := make([][]string, len(ages))
	var plan PrunePlan
	for _, a := range ages {
		plan.TotalBytes += a.Bytes
	}
	if r.OlderThan > 0 {
		for i, a := range ages {
			if age := r.Now.Sub(a.Last); age > r.OlderThan {
				why[i] = append(why[i], fmt.Sprintf("last written %s ago, older than %s", FormatAge(age), FormatAge(r.OlderThan)))
			}
		}
	}
	if r.Keep >= 0 {
		seen := map[string]int{}
		for i := len(ages) - 1; i >= 0; i-- { // newest first
			gp := ages[i].Session.Game + "/" + ages[i].Session.Player
			seen[gp]++
			if n := seen[gp]; n > r.Keep {
				why[i] = append(why[i], fmt.Sprintf("not among the %d newest sessions of %s", r.Keep, gp))
			}
		}
	}
	recording := func(i int) bool { return ages[i].Recording(r.Now, r.Grace) }
	deleted := make([]bool, len(ages))
	kept := plan.TotalBytes
	for i := range ages {
		if len(why[i]) > 0 && !recording(i) {
			deleted[i] = true
			kept -= ages[i].Bytes
		}
	}
	if r.MaxBytes >= 0 {
		for i := range ages {
			if kept <= r.MaxBytes {
				break
			}
			if deleted[i] {
				continue
			}
			why[i] = append(why[i], fmt.Sprintf("oldest while the sessions take %s, over --max-size %s", humanize.Bytes(uint64(kept)), humanize.Bytes(uint64(r.MaxBytes))))
			if !recording(i) {
				deleted[i] = true
				kept -= ages[i].Bytes
			}
		}
		if kept > r.MaxBytes {
			plan.OverBy = kept - r.MaxBytes
		}
	}
	for i, a := range ages {
		switch {
		case deleted[i]:
			plan.Delete = append(plan.Delete, Choice{Age: a, Why: why[i]})
		case len(why[i]) > 0:
			last := "the sink does not say when it was last written"
			if !a.Session.Modified.IsZero() {
				last = fmt.Sprintf("last written %s ago, within %s", FormatAge(r.Now.Sub(a.Session.Modified)), FormatAge(r.Grace))
			}
			plan.Skipped = append(plan.Skipped, Choice{Age: a, Why: why[i],
				Skip: "may still be recording: no end record, " + last})
			plan.Kept = append(plan.Kept, a)
		default:
			plan.Kept = append(plan.Kept, a)
		}
	}
	plan.KeptBytes = kept
	return plan
}

// FormatAge writes a duration the way --older-than takes one, rounded to
// its largest unit or two: 45s, 12m, 3h20m, 2d4h, 35d.
func FormatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < day:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	case d < 14*day:
		dd, h := int(d/day), int(d%day/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", dd)
		}
		return fmt.Sprintf("%dd%dh", dd, h)
	}
	return fmt.Sprintf("%dd", int(d/day))
}

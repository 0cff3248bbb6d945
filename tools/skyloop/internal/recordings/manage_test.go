package recordings

import (
	"slices"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

func TestStartOf(t *testing.T) {
	start := time.Date(2026, 11, 24, 20, 15, 0, 123e6, time.UTC)
	if got, ok := StartOf(segment.NewSessionID(start)); !ok || !got.Equal(start) {
		t.Fatalf("StartOf(NewSessionID(%v)) = %v, %v", start, got, ok)
	}
	for _, id := range []string{"", "20261124", "run-1", "2026-11-24T20:15:00Z"} {
		if _, ok := StartOf(id); ok {
			t.Errorf("StartOf(%q) ok", id)
		}
	}
}

// age makes a session of game/player started at start, last written at
// last (modified), ended or not, of size bytes.
func age(game, player string, start, last time.Time, ended bool, bytes int64) Age {
	s := &Session{Game: game, Player: player, ID: segment.NewSessionID(start), Modified: last}
	return Age{Session: s, Start: start, Last: last, Ended: ended, Bytes: bytes}
}

func refsOf(cs []Choice) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Session.Ref())
	}
	return out
}

func TestPlan(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	a1 := age("g", "alice", now.Add(-9*day), now.Add(-9*day), true, 100)
	a2 := age("g", "alice", now.Add(-5*day), now.Add(-5*day), true, 200)
	a3 := age("g", "alice", now.Add(-1*day), now.Add(-1*day), true, 300)
	b1 := age("g", "bob", now.Add(-8*day), now.Add(-8*day), true, 400)
	b2 := age("g", "bob", now.Add(-2*day), now.Add(-2*day), true, 500)
	live := age("g", "bob", now.Add(-10*day), now.Add(-time.Minute), false, 600) // started long ago, written just now
	crashed := age("h", "bob", now.Add(-3*day), now.Add(-3*day), false, 700)
	all := []Age{a3, b1, live, a1, crashed, b2, a2} // any order
	rules := func(older time.Duration, keep int, maxBytes int64) PruneRules {
		return PruneRules{OlderThan: older, Keep: keep, MaxBytes: maxBytes, Now: now, Grace: 5 * time.Minute}
	}
	refs := func(as ...Age) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Session.Ref())
		}
		return out
	}
	for _, c := range []struct {
		name          string
		r             PruneRules
		del, skip     []Age
		keptB, overBy int64
	}{
		{"older-than", rules(4*day, -1, -1), []Age{a1, b1, a2}, nil, 2100, 0},
		// per game AND player, newest by start: alice keeps a3 a2, bob b2
		// b1 (live started first: picked, but skipped), h/bob crashed.
		{"keep 2", rules(0, 2, -1), []Age{a1}, []Age{live}, 2700, 0},
		{"keep 1", rules(0, 1, -1), []Age{a1, b1, a2}, []Age{live}, 2100, 0},
		// oldest first (by start) until at most 1500 stay: live is skipped.
		{"max-size", rules(0, -1, 1500), []Age{a1, b1, a2, crashed}, []Age{live}, 1400, 0},
		{"max-size exact", rules(0, -1, 2100), []Age{a1, b1, a2}, []Age{live}, 2100, 0},
		{"max-size 0", rules(0, -1, 0), []Age{a1, b1, a2, crashed, b2, a3}, []Age{live}, 600, 600},
		// union, and max-size counts what the others leave: older-than
		// takes a1 b1, leaving 2300; max-size then a2 and crashed.
		{"combined", rules(7*day, -1, 2000), []Age{a1, b1, a2, crashed}, []Age{live}, 1400, 0},
		{"combined, max-size already met", rules(7*day, -1, 2300), []Age{a1, b1}, nil, 2300, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Plan(all, c.r)
			if got := refsOf(p.Delete); !slices.Equal(got, refs(c.del...)) {
				t.Errorf("delete %v, want %v", got, refs(c.del...))
			}
			if got := refsOf(p.Skipped); !slices.Equal(got, refs(c.skip...)) {
				t.Errorf("skipped %v, want %v", got, refs(c.skip...))
			}
			if p.TotalBytes != 2800 || p.KeptBytes != c.keptB || p.OverBy != c.overBy || p.DeleteBytes() != 2800-c.keptB {
				t.Errorf("bytes: total %d kept %d over %d, want 2800 %d %d", p.TotalBytes, p.KeptBytes, p.OverBy, c.keptB, c.overBy)
			}
			if len(p.Kept)+len(p.Delete) != len(all) {
				t.Errorf("%d kept + %d deleted of %d", len(p.Kept), len(p.Delete), len(all))
			}
			for _, d := range p.Delete {
				if len(d.Why) == 0 {
					t.Errorf("%s deleted without a reason", d.Session.Ref())
				}
			}
		})
	}
}

package main

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"testing"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
	"github.com/skyloop-engine/skyloop/engine/saves"
)

// These tests run the real engine (a window under Xvfb, the disk plugin,
// the spool) and check what reached the disk sink by reading its files
// with engine/saves, independently of the game.

// probe is the game with a look at its record: after the first Update (the
// record was just read), and whenever another device's version arrives.
type probe struct {
	*game
	ticks int

	firstBest, firstBricks int64

	// What the game showed each time another device's version arrived.
	seen []sight

	// hook runs after Update number hookAt (another device plays then).
	hookAt int
	hook   func()
	// untilSeen: quit once a version arrived after the hook ran and at
	// least minTicks ran.
	untilSeen bool
	minTicks  int
}

// sight is the record as the game showed it when a change arrived.
type sight struct {
	ticks        int // Updates before it
	best, bricks int64
	devices      map[string]int64
}

func (p *probe) Update(in *input.State) error {
	err := p.game.Update(in)
	p.ticks++
	if p.ticks == 1 {
		p.firstBest, p.firstBricks = p.rec.Best.Value(), p.rec.Bricks.Value()
	}
	if p.hook != nil && p.ticks == p.hookAt {
		p.hook()
	}
	if err == nil && p.untilSeen && p.ticks >= p.minTicks && len(p.seen) > 0 && p.seen[len(p.seen)-1].ticks > p.hookAt {
		return engine.ErrQuit
	}
	return err
}

func (p *probe) SavesChanged(c []saves.Change) {
	p.game.SavesChanged(c)
	p.seen = append(p.seen, sight{p.ticks, p.shownBest(), p.rec.Bricks.Value(), p.rec.Bricks.Devices()})
}

// play runs seed on the engine with cfg, one tick per frame, for frames
// frames (or until the probe quits), and returns the probe.
func play(t *testing.T, p *probe, cfg string, frames int) *probe {
	t.Helper()
	err := engine.Run(p, engine.Options{Title: "breakout", Width: 320, Height: 240, MaxFrames: frames,
		VSyncOff: true, Lockstep: true, ConfigPath: cfg})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if p.noSave {
		t.Fatal("the game could not read its record")
	}
	return p
}

func newProbe(seed int64) *probe { return &probe{game: newGame(seed, true)} }

// A run that breaks bricks leaves in the sink a record whose counter is
// the bricks it broke and whose best is its best score; the game's state
// is the same as without saves; a restart starts from that record and
// adds to it, exactly, and keeps the best when it scores less.
func TestRecordThroughTheEngine(t *testing.T) {
	enginetest.RequireDisplay(t)
	root := filepath.Join(t.TempDir(), "sink")
	a := newDevice(t, "a", root)
	cfg := a.config(t, 2)

	p1 := play(t, newProbe(2), cfg, 1200)
	first := replay(t, 2, p1.ticks)
	if first.bricks == 0 || p1.ticks != 1200 {
		t.Fatalf("%d ticks broke %d bricks: the test wants 1200 ticks that break some", p1.ticks, first.bricks)
	}
	ref := newGame(2, true)
	ref.saves = nil
	tick(t, ref, inputtest.New(), p1.ticks)
	ref.Finish()
	if digest(p1.game) != digest(ref) {
		t.Fatal("the run with saves (starting from none) ended in another state than the same ticks without saves")
	}
	rec, versions := storedRecord(t, root)
	id := a.deviceID(t)
	if rec.Bricks.Value() != first.bricks || !maps.Equal(rec.Bricks.Devices(), map[string]int64{id: first.bricks}) {
		t.Fatalf("stored bricks %d %v; the run broke %d (device %s)", rec.Bricks.Value(), rec.Bricks.Devices(), first.bricks, id)
	}
	if rec.Best.Value() != first.best || !rec.Achievements.Has(achFirstBrick) {
		t.Fatalf("stored best %d, achievements %v; want %d and first-brick", rec.Best.Value(), rec.Achievements.Names(), first.best)
	}
	if versions < 1+first.clears+first.overs {
		t.Errorf("%d versions in the sink; want one per cleared wall (%d), game over (%d) and the end", versions, first.clears, first.overs)
	}

	// Restart: the record is read in the first Update.
	p2 := play(t, newProbe(5), cfg, 400)
	second := replay(t, 5, p2.ticks)
	if p2.firstBricks != first.bricks || p2.firstBest != first.best {
		t.Fatalf("the restart started with %d bricks, best %d; want the saved %d and %d", p2.firstBricks, p2.firstBest, first.bricks, first.best)
	}
	if second.best >= first.best || second.bricks == 0 {
		t.Fatalf("the restart scored %d (%d bricks) against %d: the test wants a lower score that still breaks bricks", second.best, second.bricks, first.best)
	}
	rec, _ = storedRecord(t, root)
	if got, want := rec.Bricks.Value(), first.bricks+second.bricks; got != want || rec.Bricks.Devices()[id] != want {
		t.Fatalf("after the restart: %d bricks %v, want %d + %d", got, rec.Bricks.Devices(), first.bricks, second.bricks)
	}
	if rec.Best.Value() != first.best {
		t.Fatalf("after a restart that scored %d: best %d, want the first run's %d", second.best, rec.Best.Value(), first.best)
	}
	if p2.rec.Bricks.Value() != first.bricks+second.bricks || p2.shownBest() != first.best {
		t.Fatalf("the restart ends showing %d bricks, best %d", p2.rec.Bricks.Value(), p2.shownBest())
	}
}

// Two devices — their own saves and spool directories, one disk sink —
// merge. B's first run polls too seldom to hear of A. B's second run hears
// of A's record (maybe before its first Update), and then, while it plays,
// A plays again and saves: within a poll B shows the bricks of both
// devices, this run's unsaved ones included, and the higher best. What is
// stored in the end has each device's count exactly and the best of all.
func TestRecordTwoDevices(t *testing.T) {
	enginetest.RequireDisplay(t)
	root := filepath.Join(t.TempDir(), "sink")
	a, b := newDevice(t, "a", root), newDevice(t, "b", root)

	pa := play(t, newProbe(2), a.config(t, 0.1), 900)
	ra := replay(t, 2, pa.ticks)
	pb1 := play(t, newProbe(3), b.config(t, 600), 900)
	rb1 := replay(t, 3, pb1.ticks)
	if len(pb1.seen) != 0 || pb1.rec.Bricks.Value() != rb1.bricks {
		t.Fatalf("B's first run heard of A (%d changes, %d bricks): the test wants it alone", len(pb1.seen), pb1.rec.Bricks.Value())
	}
	if ra.bricks == 0 || rb1.bricks == 0 {
		t.Fatalf("A broke %d bricks, B %d: the test wants both to break some", ra.bricks, rb1.bricks)
	}
	idA, idB := a.deviceID(t), b.deviceID(t)

	// A's second game, played in this process while B runs: A's own saves
	// directory, its versions put into the sink as the disk plugin stores
	// them.
	const a2Seed, a2Ticks = 6, 1200
	ra2 := replay(t, a2Seed, a2Ticks)
	var a2err error
	pb2 := newProbe(4)
	pb2.hookAt, pb2.untilSeen, pb2.minTicks = 150, true, 300
	pb2.hook = func() {
		sink := sinkFiles{root}
		st, err := saves.Open(saves.Options{Dir: a.savesDir(), Game: "breakout", Player: testPlayer, Poll: -1,
			Remotes: []saves.Remote{sink}, Upload: sink.put, Logger: quietLogger()})
		if err != nil {
			a2err = err
			return
		}
		g := newGame(a2Seed, true)
		g.saves = func() *saves.Store { return st }
		in := inputtest.New()
		for range a2Ticks {
			g.Update(in.Tick())
		}
		g.Finish()
		a2err = errors.Join(st.Flush(context.Background()), st.Close())
	}
	play(t, pb2, b.config(t, 0.1), 6000)
	if a2err != nil {
		t.Fatalf("A's second game: %v", a2err)
	}
	if len(pb2.seen) == 0 || pb2.seen[len(pb2.seen)-1].ticks <= pb2.hookAt {
		t.Fatalf("B's second run never heard of A's second game in %d ticks (changes %+v)", pb2.ticks, pb2.seen)
	}
	// A's first record arrived first — maybe before the first Update (the
	// first poll can beat the window): then the run started with both.
	first := pb2.seen[0]
	if start := rb1.bricks + map[bool]int64{true: ra.bricks}[first.ticks == 0]; pb2.firstBricks != start {
		t.Fatalf("B's second run started with %d bricks, want %d (its first run's %d, A's %d, heard of after %d ticks)",
			pb2.firstBricks, start, rb1.bricks, ra.bricks, first.ticks)
	}
	if replay(t, 4, pb2.hookAt).bricks == 0 {
		t.Fatalf("B broke no brick in its first %d ticks: the test wants unsaved bricks when A's game arrives", pb2.hookAt)
	}
	for _, s := range pb2.seen {
		aBricks, aBest := ra.bricks, ra.best
		if s.ticks > pb2.hookAt {
			aBricks, aBest = ra.bricks+ra2.bricks, max(ra.best, ra2.best)
		}
		now := replay(t, 4, s.ticks)
		if got, want := s.bricks, aBricks+rb1.bricks+now.bricks; got != want {
			t.Fatalf("after %d ticks B heard of A and showed %d bricks; want A's %d + B's %d + %d of this run", s.ticks, got, aBricks, rb1.bricks, now.bricks)
		}
		if s.devices[idA] != aBricks {
			t.Fatalf("after %d ticks B counted A's bricks as %d, want %d (%v)", s.ticks, s.devices[idA], aBricks, s.devices)
		}
		if got, want := s.best, max(aBest, rb1.best, now.best); got != want {
			t.Fatalf("after %d ticks B showed best %d, want %d (A %d, B %d, this run %d)", s.ticks, got, want, aBest, rb1.best, now.best)
		}
	}
	t.Logf("A: %d bricks, best %d, then %d, best %d; B: %d bricks, best %d, then %d ticks, changes after %v ticks",
		ra.bricks, ra.best, ra2.bricks, ra2.best, rb1.bricks, rb1.best, pb2.ticks, func() (ts []int) {
			for _, s := range pb2.seen {
				ts = append(ts, s.ticks)
			}
			return ts
		}())

	rb2 := replay(t, 4, pb2.ticks)
	rec, _ := storedRecord(t, root)
	want := map[string]int64{idA: ra.bricks + ra2.bricks, idB: rb1.bricks + rb2.bricks}
	if got := rec.Bricks.Devices(); !maps.Equal(got, want) || rec.Bricks.Value() != ra.bricks+ra2.bricks+rb1.bricks+rb2.bricks {
		t.Fatalf("stored: %d bricks by device %v; want %v (A %s, B %s)", rec.Bricks.Value(), got, want, idA, idB)
	}
	if got, want := rec.Best.Value(), max(ra.best, ra2.best, rb1.best, rb2.best); got != want {
		t.Fatalf("stored best %d, want %d", got, want)
	}
	if got := pb2.rec.Bricks.Value(); got != rec.Bricks.Value() {
		t.Fatalf("B's game ended showing %d bricks, the sink holds %d", got, rec.Bricks.Value())
	}
}

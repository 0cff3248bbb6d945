package main

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
	"github.com/skyloop-engine/skyloop/engine/saves"
)

// These tests drive the game's record through a real engine/saves store
// (local directories, an in-memory sink shared by "devices"), with no
// window; record_window_test.go does the same through engine.Run.

func openStore(t *testing.T, dir string, sink *memSink) *saves.Store {
	t.Helper()
	o := saves.Options{Dir: dir, Game: "breakout", Player: testPlayer, Poll: -1, Logger: quietLogger()}
	if sink != nil {
		o.Remotes, o.Upload = []saves.Remote{sink}, sink.put
	}
	st, err := saves.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func flush(t *testing.T, st *saves.Store) {
	t.Helper()
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Every brick counts once, the record is saved when a wall is cleared and
// when a game is over (what is stored then is exactly what was played so
// far), and Finish saves the rest.
func TestRecordCountsEveryBrickOnce(t *testing.T) {
	st := memStore(t, nil)
	g := withStore(newGame(2, true), st)
	in := inputtest.New()
	const ticks = 60 * 60 * 10 // TestAutoplayGoesOn: clears and a game over
	events := 0
	for i := range ticks {
		phase := g.phase
		tick(t, g, in, 1)
		if g.phase == phase || (g.phase != phaseCleared && g.phase != phaseOver) {
			continue
		}
		events++
		want := replay(t, 2, i+1)
		got := loadStored(t, st)
		if got.Bricks.Value() != want.bricks || got.Best.Value() != want.best {
			t.Fatalf("tick %d, %v: stored bricks %d best %d; want %d and %d (saved the moment it happened)",
				i+1, g.phase, got.Bricks.Value(), got.Best.Value(), want.bricks, want.best)
		}
	}
	want := replay(t, 2, ticks)
	if want.clears == 0 || want.overs == 0 || events != want.clears+want.overs {
		t.Fatalf("%d clears and %d games over in %d ticks, %d seen: the test needs both", want.clears, want.overs, ticks, events)
	}
	g.Finish()
	got := loadStored(t, st)
	id, _ := st.Device()
	if got.Bricks.Value() != want.bricks || g.rec.Bricks.Value() != want.bricks {
		t.Fatalf("bricks: stored %d, game %d; the wall lost %d", got.Bricks.Value(), g.rec.Bricks.Value(), want.bricks)
	}
	if d := got.Bricks.Devices(); len(d) != 1 || d[id] != want.bricks {
		t.Fatalf("per-device counts %v; want only this device (%s) with %d", d, id, want.bricks)
	}
	if got.Best.Value() != want.best {
		t.Fatalf("best %d, want %d", got.Best.Value(), want.best)
	}
	for _, a := range []string{achFirstBrick, achWallCleared, achLevel2, achScore1000} {
		if !got.Achievements.Has(a) {
			t.Errorf("achievement %s missing from %v", a, got.Achievements.Names())
		}
	}
	// Nothing changed since: a second Finish writes no new version.
	n := len(st.History(recordSlot))
	g.Finish()
	if m := len(st.History(recordSlot)); m != n {
		t.Fatalf("Finish with nothing new wrote a version (%d → %d)", n, m)
	}
}

// A restart reads the record in its first Update and adds to it: the
// counter is the sum of both runs, exactly, and a lower score on the
// second run leaves the best alone.
func TestRecordSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, nil)
	g1 := withStore(newGame(2, true), st)
	tick(t, g1, inputtest.New(), 3000)
	g1.Finish()
	first := replay(t, 2, 3000)
	st.Close()

	st = openStore(t, dir, nil)
	defer st.Close()
	g2 := withStore(newGame(5, true), st)
	in := inputtest.New()
	tick(t, g2, in, 1)
	if g2.rec.Bricks.Value() != first.bricks || g2.rec.Best.Value() != first.best || g2.shownBest() != first.best {
		t.Fatalf("after a restart's first Update: bricks %d, best %d (shown %d); want the saved %d and %d",
			g2.rec.Bricks.Value(), g2.rec.Best.Value(), g2.shownBest(), first.bricks, first.best)
	}
	if !strings.Contains(g2.recordText(), "best ") || !strings.Contains(g2.recordText(), " bricks broken in all") {
		t.Fatalf("record text %q", g2.recordText())
	}
	tick(t, g2, in, 399)
	g2.Finish()
	second := replay(t, 5, 400)
	if second.best >= first.best || second.bricks == 0 {
		t.Fatalf("the second run scored %d (%d bricks), the first %d: the test wants a lower score that still breaks bricks", second.best, second.bricks, first.best)
	}
	got := loadStored(t, st)
	if got.Bricks.Value() != first.bricks+second.bricks {
		t.Fatalf("bricks after two runs: %d, want %d + %d", got.Bricks.Value(), first.bricks, second.bricks)
	}
	if got.Best.Value() != first.best {
		t.Fatalf("best after a lower second run: %d, want the first run's %d", got.Best.Value(), first.best)
	}
}

// Another device's version arriving mid-game (SavesChanged) brings its
// bricks and best in at once, keeps what this device broke and did not
// save yet, and counts nothing twice however often it is delivered.
func TestRecordFromAnotherDevice(t *testing.T) {
	sink := &memSink{}
	stA, stB := memStore(t, sink), memStore(t, sink)
	idA, _ := stA.Device()
	idB, _ := stB.Device()

	gA := withStore(newGame(2, true), stA)
	tick(t, gA, inputtest.New(), 1500)
	gA.Finish()
	flush(t, stA)
	a := replay(t, 2, 1500)

	gB := withStore(newGame(3, true), stB)
	inB := inputtest.New()
	tick(t, gB, inB, 400)
	b400 := replay(t, 3, 400)
	if err := stB.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	changes := stB.TakeChanges()
	if !slices.ContainsFunc(changes, func(c saves.Change) bool { return c.Slot == recordSlot }) {
		t.Fatalf("B's store reported %+v after A's save arrived", changes)
	}
	for range 3 { // delivered again: nothing may count twice
		gB.SavesChanged(changes)
		if got, want := gB.rec.Bricks.Value(), a.bricks+b400.bricks; got != want {
			t.Fatalf("B after A's record arrived: %d bricks, want A's %d + B's own %d", got, a.bricks, b400.bricks)
		}
		if got := gB.rec.Bricks.Devices()[idA]; got != a.bricks {
			t.Fatalf("B sees A's count as %d, want %d", got, a.bricks)
		}
		if got, want := gB.shownBest(), max(a.best, b400.best); got != want {
			t.Fatalf("B shows best %d, want %d (A's %d, B's %d)", got, want, a.best, b400.best)
		}
	}
	tick(t, gB, inB, 600)
	gB.Finish()
	flush(t, stB)
	b := replay(t, 3, 1000)

	// A hears of B's record; so does a third device that never played.
	if err := stA.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	gA.SavesChanged(stA.TakeChanges())
	stC := memStore(t, sink)
	if err := stC.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for who, rec := range map[string]record{"A": gA.rec, "stored": loadStored(t, stA), "C": loadStored(t, stC)} {
		if got, want := rec.Bricks.Value(), a.bricks+b.bricks; got != want {
			t.Errorf("%s: %d bricks, want %d + %d", who, got, a.bricks, b.bricks)
		}
		if got, want := rec.Bricks.Devices(), map[string]int64{idA: a.bricks, idB: b.bricks}; !maps.Equal(got, want) {
			t.Errorf("%s: per-device counts %v, want %v", who, got, want)
		}
		if got, want := rec.Best.Value(), max(a.best, b.best); got != want {
			t.Errorf("%s: best %d, want %d", who, got, want)
		}
		union := slices.Compact(slices.Sorted(slices.Values(append(gA.rec.Achievements.Names(), gB.rec.Achievements.Names()...))))
		if got := rec.Achievements.Names(); !slices.Equal(got, union) || !slices.Contains(got, achFirstBrick) {
			t.Errorf("%s: achievements %v, want %v", who, got, union)
		}
	}
}

// Saves at the moments the game promises — a cleared wall, a game over,
// Finish — and only when something changed; the achievements of those
// moments are in them.
func TestRecordSavedAtClearAndGameOver(t *testing.T) {
	st := memStore(t, nil)
	g := withStore(newGame(1, false), st)
	in := inputtest.New()
	tick(t, g, in, 1) // the first Update reads the (empty) record
	versions := func() int { return len(st.History(recordSlot)) }

	g.bricks = [brickRows][brickCols]bool{}
	g.bricks[brickRows-1][3] = true
	g.left = 1
	x, y, w, h := brickRect(brickRows-1, 3)
	g.phase, g.ballX, g.ballY, g.ballVX, g.ballVY = phasePlay, x+w/2, y+h+ballR+1, 0, -g.speed()
	tick(t, g, in, 1)
	if g.phase != phaseCleared || versions() != 1 {
		t.Fatalf("after the last brick: phase %v, %d versions; want cleared and 1", g.phase, versions())
	}
	rec := loadStored(t, st)
	if rec.Bricks.Value() != 1 || rec.Best.Value() != 10 {
		t.Fatalf("saved at the clear: %d bricks, best %d; want 1 and 10", rec.Bricks.Value(), rec.Best.Value())
	}
	for _, a := range []string{achFirstBrick, achWallCleared, achNoLivesLost} {
		if !rec.Achievements.Has(a) {
			t.Errorf("saved at the clear: achievements %v, want %s", rec.Achievements.Names(), a)
		}
	}
	if g.toastTimer == 0 || !strings.HasPrefix(toastText(g.toast), "ACHIEVEMENT: ") {
		t.Errorf("no achievement shown after unlocking (toast %q, %d ticks)", g.toast, g.toastTimer)
	}
	tick(t, g, in, clearPause)
	if g.level != 2 || !g.rec.Achievements.Has(achLevel2) {
		t.Fatalf("level %d, achievements %v; want level-2", g.level, g.rec.Achievements.Names())
	}

	// Lose every life with no brick broken: the game over saves (level-2 is
	// new), a Finish after it has nothing to write.
	for g.phase != phaseOver {
		g.paddleX = 0
		g.phase, g.ballX, g.ballY, g.ballVX, g.ballVY = phasePlay, 400, screenH-ballR-1, 0, 4
		tick(t, g, in, 1)
	}
	if versions() != 2 {
		t.Fatalf("after the game over: %d versions, want 2", versions())
	}
	if rec := loadStored(t, st); !rec.Achievements.Has(achLevel2) || rec.Achievements.Has(achScore1000) {
		t.Fatalf("saved at game over: achievements %v", rec.Achievements.Names())
	}
	g.Finish()
	if versions() != 2 {
		t.Fatalf("Finish with nothing new: %d versions, want 2", versions())
	}
	// A game in progress when Run ends counts: its score is the best.
	in.Press(input.KeyEnter)
	tick(t, g, in, 1)
	g.score = 500
	g.Finish()
	if rec := loadStored(t, st); versions() != 3 || rec.Best.Value() != 500 {
		t.Fatalf("Finish mid-game at 500 points: %d versions, best %d; want 3 and 500", versions(), rec.Best.Value())
	}
}

// A record that cannot be read is never overwritten by one built without
// it (that would undercount): the game plays on and saves nothing.
func TestRecordUnreadableIsLeftAlone(t *testing.T) {
	st := memStore(t, nil)
	if _, err := st.Save(recordSlot, []byte("not a record"), saves.Meta{}); err != nil {
		t.Fatal(err)
	}
	g := withStore(newGame(2, true), st)
	tick(t, g, inputtest.New(), 3000)
	g.Finish()
	if g.rec.Bricks.Value() == 0 {
		t.Fatal("the game did not play")
	}
	if h := st.History(recordSlot); len(h) != 1 || h[0].Encoding != "bytes" {
		t.Fatalf("the unreadable record was written over: %+v", h)
	}
}

// Saves on, with nothing saved yet, play and draw exactly like saves off.
func TestSavesDoNotChangeTheGame(t *testing.T) {
	off := newGame(4, true)
	off.saves = nil
	on := withStore(newGame(4, true), memStore(t, nil))
	for _, g := range []*game{off, on} {
		tick(t, g, inputtest.New(), 6000)
		g.Finish()
	}
	if digest(off) != digest(on) {
		t.Fatal("the same seed ends in different states with saves on and off")
	}
	l1, m1, r1 := off.hudText()
	l2, m2, r2 := on.hudText()
	if l1 != l2 || m1 != m2 || r1 != r2 || off.recordText() != on.recordText() {
		t.Fatalf("the texts differ: %q %q %q %q vs %q %q %q %q", l1, m1, r1, off.recordText(), l2, m2, r2, on.recordText())
	}
}

// The HUD's three parts never overlap and the record line fits the screen,
// with the largest numbers a player will see.
func TestHUDFits(t *testing.T) {
	g := newGame(1, true)
	g.score, g.level, g.lives = 99999, 99, startLives
	g.rec.Best.Offer(999999)
	g.rec.Bricks.Add(9999999)
	for _, a := range []string{achFirstBrick, achWallCleared, achLevel2, achScore1000, achNoLivesLost} {
		g.rec.Achievements.Unlock(a)
	}
	left, middle, right := g.hudText()
	lw, _ := g.hud.Measure(left)
	mw, _ := g.hud.Measure(middle)
	rw, _ := g.hud.Measure(right)
	if 12+lw+8 > (screenW-mw)/2 || (screenW+mw)/2+8 > screenW-12-rw {
		t.Fatalf("HUD overlaps: %q (%.0f px), %q (%.0f px), %q (%.0f px) on %d px", left, lw, middle, mw, right, rw, screenW)
	}
	if w, _ := g.hud.Measure(g.recordText()); w > screenW-24 {
		t.Fatalf("record line %q is %.0f px wide, the screen %d", g.recordText(), w, screenW)
	}
	if w, _ := g.hud.Measure(toastText(achNoLivesLost)); w > screenW-24 {
		t.Fatalf("achievement line is %.0f px wide", w)
	}
	if !strings.Contains(right, "BEST 999999") || !strings.Contains(g.recordText(), "9999999 bricks") || !strings.Contains(g.recordText(), "5 of 5") {
		t.Fatalf("texts %q, %q", left, g.recordText())
	}
}

// A run that scores nothing writes nothing (no empty record in the sinks).
func TestRecordNothingToSave(t *testing.T) {
	st := memStore(t, nil)
	g := withStore(newGame(1, true), st)
	tick(t, g, inputtest.New(), 60)
	g.Finish()
	if h := st.History(recordSlot); len(h) != 0 || g.dirty {
		t.Fatalf("a run with no brick broken wrote %d versions (dirty %v)", len(h), g.dirty)
	}
}

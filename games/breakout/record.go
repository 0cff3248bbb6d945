package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/saves"
)

// recordSlot is the save slot breakout keeps its record in.
const recordSlot = "record"

// record is what breakout keeps across runs and devices, through
// engine.Saves(). Each field is one of engine/saves' typed fields, so two
// devices that both played offline merge without asking anyone: the
// higher best score wins, the bricks of both add up (each device keeps its
// own count), and achievements are the union of both.
type record struct {
	Best         saves.Best    `json:"best"`         // the highest score of any game
	Bricks       saves.Counter `json:"bricks"`       // bricks broken in all, on every device
	Achievements saves.Unlocks `json:"achievements"` // names from the achievements list
}

// The achievements, in the order the game-over screen counts them.
const (
	achFirstBrick   = "first-brick"         // break a brick
	achWallCleared  = "wall-cleared"        // clear a whole wall
	achLevel2       = "level-2"             // reach level 2
	achScore1000    = "score-1000"          // 1000 points in one game
	achNoLivesLost  = "no-lives-lost-level" // clear a wall without losing a life on it
	toastTicks      = 120                   // how long "ACHIEVEMENT …" shows
	achievementsAll = 5
)

// The record is kept in memory by the game whether or not saves are on, and
// only its loading and writing go through engine.Saves(); so a run that
// starts with no saves plays and draws exactly like a run with saves off.
//
// Counting is exact: a brick adds 1 to the counter once (pending in the
// counter until a Save credits it to this device). unsaved mirrors what is
// pending, so a reload (another device's version arrived) can put it back
// on top of the merged record instead of losing it or adding it twice.

// store returns the save store, nil when saves are off.
func (g *game) store() *saves.Store {
	if g.saves == nil {
		return nil
	}
	return g.saves()
}

// loadRecord reads the record slot into g.rec, keeping what this run
// added and did not save yet. It runs in the first Update (and again when
// another device's version arrives); with saves off it only marks the
// record loaded.
func (g *game) loadRecord(why string) {
	first := !g.loaded
	g.loaded = true
	st := g.store()
	if st == nil || g.noSave {
		return
	}
	var fresh record
	v, err := st.Load(recordSlot, &fresh)
	if err == nil && first {
		g.playedBefore = v.PlayTime
	}
	switch {
	case errors.Is(err, saves.ErrNotFound):
		if first {
			slog.Info("breakout: no saved record yet; this run starts one")
		}
		return
	case err != nil:
		// Writing a record built without the saved one would undercount
		// this device's bricks: this run plays on without saving.
		slog.Error("breakout: cannot read the saved record; this run does not save", "err", err)
		g.noSave = true
		return
	}
	// What this run has not saved yet goes back on top: bricks pending,
	// a best not written, achievements unlocked since.
	fresh.Bricks.Add(g.unsaved)
	if g.rec.Best.Value() > 0 {
		fresh.Best.Offer(g.rec.Best.Value())
	}
	for _, name := range g.rec.Achievements.Names() {
		if !fresh.Achievements.Has(name) {
			fresh.Achievements.Unlock(name)
		}
	}
	g.rec = fresh
	slog.Info("breakout: record "+why, "best", g.rec.Best.Value(), "bricks", g.rec.Bricks.Value(),
		"achievements", len(g.rec.Achievements.Names()), "version", v.ID, "device", v.Device)
}

// SavesChanged is called by the engine before an Update when a version of
// the record from another device arrived (and was merged): the record is
// read again, so the best and the bricks shown include that device's.
func (g *game) SavesChanged(changes []saves.Change) {
	for _, c := range changes {
		if c.Slot == recordSlot {
			g.loadRecord("updated from another device")
			return
		}
	}
}

// Finish is called by the engine when Run ends (quit, window closed,
// -frames reached): the score of the game in progress counts as a best,
// and the record is saved.
func (g *game) Finish() {
	if !g.loaded {
		g.loadRecord("loaded")
	}
	g.offerScore()
	if g.saveRecord() {
		slog.Info("breakout: record saved", "best", g.rec.Best.Value(), "bricks", g.rec.Bricks.Value(),
			"achievements", len(g.rec.Achievements.Names()), "this_run_best", g.runBest, "this_run_bricks", g.runBricks)
	}
}

// brickBroken counts a broken brick and the achievements it brings.
func (g *game) brickBroken() {
	g.rec.Bricks.Add(1)
	g.unsaved++
	g.runBricks++
	g.dirty = true
	g.achieve(achFirstBrick)
	if g.score >= 1000 {
		g.achieve(achScore1000)
	}
}

// wallCleared is the moment the last brick of a wall falls.
func (g *game) wallCleared() {
	g.achieve(achWallCleared)
	if g.lives == g.levelLives {
		g.achieve(achNoLivesLost)
	}
	g.offerScore()
	g.saveRecord()
}

// gameOver is the moment the last life is lost.
func (g *game) gameOver() {
	g.offerScore()
	g.saveRecord()
}

// offerScore offers the score as a best (a score of 0 is no best: a run
// that scored nothing has nothing to save).
func (g *game) offerScore() {
	g.runBest = max(g.runBest, g.score)
	if g.score > 0 && g.rec.Best.Offer(int64(g.score)) {
		g.dirty = true
	}
}

// achieve unlocks an achievement; a new one shows for a while.
func (g *game) achieve(name string) {
	if g.rec.Achievements.Unlock(name) {
		g.dirty = true
		g.toast, g.toastTimer = name, toastTicks
	}
}

// saveRecord writes the record when it changed since the last save and
// saves are on; it reports whether it wrote. After a Save, g.rec holds
// the merged result (what other devices added is in it too).
func (g *game) saveRecord() bool {
	st := g.store()
	if st == nil || g.noSave || !g.dirty {
		return false
	}
	if !g.loaded {
		// Never write before reading: a counter saved without the saved
		// counts would lose them.
		g.loadRecord("loaded")
		if g.noSave {
			return false
		}
	}
	meta := saves.Meta{
		PlayTime:    g.playedBefore + time.Duration(g.ticks)*time.Second/engine.DefaultTPS,
		Progress:    float64(g.level),
		Description: fmt.Sprintf("best %d, %d bricks broken", g.rec.Best.Value(), g.rec.Bricks.Value()),
	}
	if _, err := st.Save(recordSlot, &g.rec, meta); err != nil {
		slog.Error("breakout: saving the record failed; it is kept in memory and saved again later", "err", err)
		return false
	}
	g.unsaved, g.dirty = 0, false
	return true
}

// shownBest is the best score the HUD shows: the saved best, or the score
// of this game when it is higher.
func (g *game) shownBest() int64 { return max(g.rec.Best.Value(), int64(g.score)) }

var _ engine.SaveWatcher = (*game)(nil)
var _ engine.Finisher = (*game)(nil)

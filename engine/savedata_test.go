package engine

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/saves"
)

type saveRecord struct {
	Best  saves.Best
	Coins saves.Counter
	Badge saves.Unlocks
}

// savingGame earns a coin per tick, saves in Finish, and on device B
// waits for A's save to arrive through SavesChanged.
type savingGame struct {
	sceneGame
	rec       saveRecord
	loaded    bool
	loadErr   error
	changes   []saves.Change
	quitOnArr bool
	finished  bool
	added     int64 // coins this run added
}

func (g *savingGame) Update(in *input.State) error {
	if !g.loaded {
		g.loaded = true
		if s := Saves(); s != nil {
			if _, err := s.Load("record", &g.rec); err != nil && !errorsIsNotFound(err) {
				g.loadErr = err
			}
		} else {
			g.loadErr = fmt.Errorf("engine.Saves() is nil in a running game")
		}
	}
	g.rec.Coins.Add(1)
	g.added++
	if g.quitOnArr && len(g.changes) > 0 {
		return ErrQuit
	}
	return g.sceneGame.Update(in)
}

func (g *savingGame) SavesChanged(c []saves.Change) {
	g.changes = append(g.changes, c...)
	for _, ch := range c {
		if ch.Slot == "record" {
			Saves().Load("record", &g.rec)
		}
	}
}

func (g *savingGame) Finish() {
	g.finished = true
	g.rec.Best.Offer(int64(g.ticks))
	g.rec.Badge.Unlock(fmt.Sprintf("played-%d", g.ticks))
	thumb, err := Thumbnail(8, 8)
	if err != nil && g.ticks > 0 {
		g.loadErr = err // a run that quit in its first Update drew no frame
		return
	}
	if _, err := Saves().Save("record", &g.rec, saves.Meta{Thumbnail: thumb}); err != nil {
		g.loadErr = err
	}
}

func errorsIsNotFound(err error) bool {
	for e := err; e != nil; {
		if e == saves.ErrNotFound {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// A game saves through engine.Saves() in Finish; the save survives a
// restart; a second device (its own saves dir, the same disk sink) gets it
// through SavesChanged before an Update, and its counter adds to A's.
func TestSavesInARunningGame(t *testing.T) {
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "disk")
	root := filepath.Join(dir, "sink")
	cfgFor := func(dev string) string {
		p := filepath.Join(dir, dev+".toml")
		doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\n[capture]\nenabled = false\n[saves]\ndir = %q\ndevice = %q\npoll_seconds = 0.1\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
			pluginDir, filepath.Join(dir, dev, "spool"), filepath.Join(dir, dev, "saves"), dev, root)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfgA, cfgB := cfgFor("a"), cfgFor("b")
	run := func(g *savingGame, cfg string, frames int) {
		t.Helper()
		g.sceneGame = sceneGame{w: 16, h: 16, draw: func(c *gfx.Canvas) { c.Clear(bg) }}
		if err := Run(g, Options{Name: "savetest", Width: 16, Height: 16, MaxFrames: frames, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Logger: testLogger(io.Discard)}); err != nil {
			t.Fatal(err)
		}
		if g.loadErr != nil {
			t.Fatal(g.loadErr)
		}
		if !g.finished {
			t.Fatal("Finish was not called")
		}
	}
	a := &savingGame{}
	run(a, cfgA, 20)
	// Restart on A: the record is there.
	a2 := &savingGame{}
	run(a2, cfgA, 5)
	if a2.rec.Coins.Value() != 25 || a2.rec.Best.Value() != 20 || !a2.rec.Badge.Has("played-20") {
		t.Fatalf("A after a restart: coins %d (want 20+5), best %d (want 20), badges %v", a2.rec.Coins.Value(), a2.rec.Best.Value(), a2.rec.Badge.Names())
	}
	// Device B starts empty and hears of A's save within a few polls.
	b := &savingGame{quitOnArr: true}
	run(b, cfgB, 100000)
	if len(b.changes) == 0 {
		t.Fatal("B never got SavesChanged")
	}
	if b.rec.Best.Value() < 20 || !b.rec.Badge.Has("played-5") {
		t.Fatalf("B read best %d, badges %v: not A's record", b.rec.Best.Value(), b.rec.Badge.Names())
	}
	// The thumbnail is the last frame, scaled: 8x8, every pixel the clear
	// colour (a 16x16 screen cleared to bg).
	v, err := saves.Open(saves.Options{Dir: filepath.Join(dir, "a", "saves"), Game: "savetest", Player: "tester", Poll: -1})
	if err != nil {
		t.Fatal(err)
	}
	var r saveRecord
	meta, err := v.Load("record", &r)
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(meta.Thumbnail))
	if err != nil || img.Bounds().Dx() != 8 || img.Bounds().Dy() != 8 {
		t.Fatalf("thumbnail: %v, %v", img, err)
	}
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			if c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA); c != bg {
				t.Fatalf("thumbnail pixel (%d,%d) = %v, want the clear colour %v", x, y, c, bg)
			}
		}
	}
	// B saved its own coins on top in Finish; A's next start sees both.
	a3 := &savingGame{quitOnArr: true}
	run(a3, cfgA, 100000)
	if got, want := a3.rec.Coins.Value(), 25+b.added+a3.added; got != want {
		t.Fatalf("A's coins after B added %d: %d, want %d (A's 25 + B's + this run's %d)", b.added, got, want, a3.added)
	}
}

package main

import (
	"errors"
	"hash/fnv"
	"math"
	"testing"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
)

// step runs n ticks the way the engine does: the tick applies the queued
// input, then Update.
func step(t *testing.T, g *game, in *inputtest.Driver, n int) {
	t.Helper()
	for range n {
		if err := g.Update(in.Tick()); err != nil {
			t.Fatalf("tick %d: Update: %v", g.tick, err)
		}
	}
}

// digest hashes everything that matters in the state.
func digest(g *game) uint64 {
	h := fnv.New64a()
	put := func(vs ...float64) {
		for _, v := range vs {
			b := math.Float64bits(v)
			h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24), byte(b >> 32), byte(b >> 40), byte(b >> 48), byte(b >> 56)})
		}
	}
	put(float64(g.tick), float64(g.score), float64(g.best), float64(g.wave), float64(g.toSpawn))
	put(g.p.x, g.p.y, g.p.aim, float64(g.p.hp), float64(g.p.invuln))
	for _, e := range g.enemies {
		put(e.x, e.y, float64(e.kind), float64(e.hp))
	}
	for _, b := range g.bullets {
		put(b.x, b.y)
	}
	for _, p := range g.particles {
		put(p.x, p.y, float64(p.life))
	}
	return h.Sum64()
}

func TestAutoplayPlays(t *testing.T) {
	g := newGame(1, true)
	in := inputtest.New()
	mostEnemies, mostParticles, scored, deaths := 0, 0, 0, 0
	for range 6000 {
		score0, over0 := g.score, g.over
		step(t, g, in, 1)
		mostEnemies = max(mostEnemies, len(g.enemies))
		mostParticles = max(mostParticles, len(g.particles))
		scored += max(0, g.score-score0) // score only rises by kills
		if g.over && !over0 {
			deaths++
		}
		if len(g.particles) > maxParticles || len(g.enemies) > maxEnemies {
			t.Fatalf("tick %d: %d particles, %d enemies: over the caps", g.tick, len(g.particles), len(g.enemies))
		}
	}
	t.Logf("6000 ticks: scored %d, %d deaths, best %d, at most %d enemies and %d particles at once", scored, deaths, g.best, mostEnemies, mostParticles)
	if scored < 2000 {
		t.Errorf("the autopilot scored only %d in 6000 ticks", scored)
	}
	if mostEnemies < 30 {
		t.Errorf("at most %d enemies at once, want dozens", mostEnemies)
	}
	if mostParticles < 200 {
		t.Errorf("at most %d particles at once, want hundreds", mostParticles)
	}
}

func TestDeterministic(t *testing.T) {
	run := func(seed int64) uint64 {
		g := newGame(seed, true)
		step(t, g, inputtest.New(), 1500)
		return digest(g)
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Errorf("same seed, different states: %x vs %x", a, b)
	}
	if a == c {
		t.Errorf("seeds 7 and 8 gave the same state %x", a)
	}
}

func TestKeyboardMovesPlayer(t *testing.T) {
	g := newGame(1, false)
	in := inputtest.New()
	x0, y0 := g.p.x, g.p.y
	in.Press(input.KeyD)
	step(t, g, in, 10)
	if want := x0 + 10*playerSpeed; math.Abs(g.p.x-want) > 1e-9 || g.p.y != y0 {
		t.Fatalf("after 10 ticks of D: player at (%v, %v), want (%v, %v)", g.p.x, g.p.y, want, y0)
	}
	in.Release(input.KeyD)
	in.Press(input.KeyUp)
	step(t, g, in, 5)
	if want := y0 - 5*playerSpeed; math.Abs(g.p.y-want) > 1e-9 {
		t.Fatalf("after 5 ticks of Up: y = %v, want %v", g.p.y, want)
	}
}

func TestGamepadMovesAimsAndFires(t *testing.T) {
	g := newGame(1, false)
	in := inputtest.New()
	in.ConnectGamepad(0, "test pad")
	in.GamepadAxis(0, input.GamepadLeftY, 1)   // stick down: move down
	in.GamepadAxis(0, input.GamepadRightX, -1) // right stick left: aim left and fire
	y0 := g.p.y
	step(t, g, in, 10)
	if want := y0 + 10*playerSpeed; math.Abs(g.p.y-want) > 1e-9 {
		t.Errorf("after 10 ticks of left stick down: y = %v, want %v", g.p.y, want)
	}
	if math.Abs(math.Abs(g.p.aim)-math.Pi) > 1e-9 || len(g.bullets) == 0 || g.bullets[0].vx >= 0 {
		t.Errorf("right stick left: aim %v, %d bullets; want aim ±π and bullets flying left", g.p.aim, len(g.bullets))
	}
}

func TestShootingAndRestart(t *testing.T) {
	g := newGame(3, false)
	in := inputtest.New()
	in.Press(input.KeySpace)
	step(t, g, in, 1)
	if len(g.bullets) != 1 {
		t.Fatalf("Space: %d bullets, want 1", len(g.bullets))
	}
	// Standing still, the ship is eventually overrun: game over, then Enter.
	for i := 0; !g.over; i++ {
		if i > 20000 {
			t.Fatal("no game over after 20000 ticks of standing still")
		}
		step(t, g, in, 1)
	}
	in.Press(input.KeyEnter)
	step(t, g, in, 1)
	if g.over || g.p.hp != playerMaxHP || g.score != 0 {
		t.Fatalf("after Enter: over=%v hp=%d score=%d, want a fresh round", g.over, g.p.hp, g.score)
	}
}

func TestEscapeQuits(t *testing.T) {
	g := newGame(1, true)
	in := inputtest.New()
	in.Press(input.KeyEscape)
	if err := g.Update(in.Tick()); !errors.Is(err, engine.ErrQuit) {
		t.Fatalf("Update after Escape = %v, want engine.ErrQuit", err)
	}
}

package main

import (
	"image/color"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
)

// All speeds and durations are per tick: the engine calls Update at a fixed
// rate (60 a second unless -tps says otherwise), so the game needs no clock.
const (
	screenW, screenH = 960, 540
	hudH             = 32 // the top bar, where the HUD text is; the ship stays below it

	maxEnemies   = 150
	maxParticles = 2000

	playerSpeed  = 3.4
	playerRadius = 11
	playerMaxHP  = 5
	invulnTicks  = 60 // after a hit, so one swarm cannot kill in a single tick
	fireCooldown = 5
	bulletSpeed  = 10
	bulletLife   = 110
	ringLife     = 24
	restartDelay = 150 // autoplay waits this long on the game-over screen
)

// kind describes an enemy type.
type kind struct {
	sprite               int
	hp                   int
	speed, radius, scale float64
	tint                 color.RGBA
	score, particles     int
}

const (
	chaser = iota
	weaver
	brute
)

var kinds = [...]kind{
	chaser: {spriteChaser, 1, 2.0, 10, 1.4, color.RGBA{255, 90, 70, 255}, 10, 30},
	weaver: {spriteWeaver, 2, 1.5, 11, 1.5, color.RGBA{110, 255, 120, 255}, 25, 45},
	brute:  {spriteBrute, 7, 0.8, 17, 2.3, color.RGBA{200, 110, 255, 255}, 70, 90},
}

type player struct {
	x, y, aim            float64
	hp, invuln, cooldown int // invuln, cooldown: ticks left unhurtable, until the gun fires again
}

type enemy struct {
	x, y, vx, vy, angle float64
	kind, hp            int
	phase               float64 // weavers sway out of step with each other
	flash               int     // ticks left drawn white after a hit
}

type bullet struct {
	x, y, vx, vy float64
	life         int // ticks left; 0 once it hits
}

// particle is a spark, or with a ring size a shockwave: a circle outline
// growing to that radius.
type particle struct {
	bullet   // flies the same way
	maxLife  int
	col      color.RGBA
	ringSize float64
}

// controls are what the ship is told to do this tick, by a player or by the
// autopilot: both go through the same code from here on.
type controls struct {
	dx, dy float64 // movement, length at most 1
	aim    float64 // radians, 0 = right, clockwise (y points down)
	fire   bool
}

// game is the whole state. Update changes it; Draw only reads it.
type game struct {
	rng              *rand.Rand
	autoplay         bool
	sprites          [spriteCount]*gfx.Image
	floor            *gfx.Image // the background tile
	hudFace, bigFace *gfx.Face

	tick      int // Updates so far; every animation is a function of it
	p         player
	enemies   []enemy
	bullets   []bullet
	particles []particle

	score, best       int
	wave, toSpawn     int // current wave, enemies of it still to come
	spawnTimer, pause int // ticks to the next spawn; breather between waves
	shake             int // ticks of screen shake left
	over              bool
	overTicks         int
}

// newGame returns a game ready for its first Update. The same seed (and the
// same input) gives the same game, tick for tick.
func newGame(seed int64, autoplay bool) *game {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x61726e61))
	g := &game{
		rng:      rng,
		autoplay: autoplay,
		sprites:  newSprites(),
		floor:    newFloor(rng),
		hudFace:  gfx.DefaultFace(20),
		bigFace:  gfx.DefaultFace(56),
	}
	g.reset()
	return g
}

// reset starts a new round; the random stream carries on, so each round
// differs but the whole session stays reproducible.
func (g *game) reset() {
	g.p = player{x: screenW / 2, y: (screenH + hudH) / 2, hp: playerMaxHP}
	g.enemies, g.bullets, g.particles = nil, nil, nil
	g.score, g.wave, g.toSpawn, g.spawnTimer, g.pause, g.shake = 0, 0, 0, 0, 30, 0
	g.over, g.overTicks = false, 0
}

// Layout fixes the logical screen; the engine letterboxes it into any window.
func (g *game) Layout(int, int) (int, int) { return screenW, screenH }

// Update advances the game by one tick.
func (g *game) Update(in *input.State) error {
	if in.JustPressed(input.KeyEscape) {
		return engine.ErrQuit
	}
	g.tick++
	if g.over {
		g.overTicks++
		if in.JustPressed(input.KeyEnter) || (g.autoplay && g.overTicks >= restartDelay) {
			g.reset()
		}
		g.updateEffects() // the last explosion plays out behind the text
		return nil
	}
	if g.autoplay {
		g.movePlayer(g.autopilot())
	} else {
		g.movePlayer(readControls(in, g.p))
	}
	g.spawnEnemies()
	g.moveEnemies()
	g.moveBullets()
	g.resolveEnemies()
	g.updateEffects()
	return nil
}

// readControls turns keyboard, mouse and gamepad state into controls.
func readControls(in *input.State, p player) controls {
	held := func(keys ...input.Key) (n float64) {
		if slices.ContainsFunc(keys, in.Pressed) {
			n = 1
		}
		return n
	}
	c := controls{
		dx:   held(input.KeyD, input.KeyRight) - held(input.KeyA, input.KeyLeft),
		dy:   held(input.KeyS, input.KeyDown) - held(input.KeyW, input.KeyUp),
		fire: in.MousePressed(input.MouseLeft) || in.Pressed(input.KeySpace),
	}
	mx, my := in.Cursor() // already in logical screen coordinates
	c.aim = math.Atan2(my-p.y, mx-p.x)

	// Twin-stick: the left stick moves, the right stick aims and fires.
	stick := func(id int, ax, ay input.GamepadAxis) (x, y float64, ok bool) {
		x, y = float64(in.GamepadAxisValue(id, ax)), float64(in.GamepadAxisValue(id, ay))
		return x, y, math.Hypot(x, y) > 0.25 // dead zone: sticks rarely rest at 0
	}
	for _, id := range in.Gamepads() {
		if x, y, ok := stick(id, input.GamepadLeftX, input.GamepadLeftY); ok {
			c.dx, c.dy = c.dx+x, c.dy+y
		}
		if x, y, ok := stick(id, input.GamepadRightX, input.GamepadRightY); ok {
			c.aim, c.fire = math.Atan2(y, x), true
		}
		c.fire = c.fire || in.GamepadPressed(id, input.GamepadRightBumper)
	}
	// Diagonals are no faster than straight lines.
	if l := math.Hypot(c.dx, c.dy); l > 1 {
		c.dx, c.dy = c.dx/l, c.dy/l
	}
	return c
}

func (g *game) movePlayer(c controls) {
	p := &g.p
	p.x = max(playerRadius, min(p.x+c.dx*playerSpeed, screenW-playerRadius))
	p.y = max(hudH+playerRadius, min(p.y+c.dy*playerSpeed, screenH-playerRadius))
	p.aim = c.aim
	p.cooldown, p.invuln = max(0, p.cooldown-1), max(0, p.invuln-1)
	if c.fire && p.cooldown == 0 {
		p.cooldown = fireCooldown
		sin, cos := math.Sincos(p.aim + (g.rng.Float64()-0.5)*0.06) // a little spread looks livelier
		g.bullets = append(g.bullets, bullet{p.x + cos*16, p.y + sin*16, cos * bulletSpeed, sin * bulletSpeed, bulletLife})
	}
}

// spawnEnemies runs the waves: each is bigger and comes faster; a wave ends
// when all of it is dead, then a short breather.
func (g *game) spawnEnemies() {
	if g.toSpawn == 0 && len(g.enemies) == 0 {
		if g.pause > 0 {
			g.pause--
			return
		}
		g.wave, g.toSpawn, g.pause = g.wave+1, 20+20*(g.wave+1), 90
	}
	if g.spawnTimer > 0 {
		g.spawnTimer--
		return
	}
	g.spawnTimer = max(3, 8-g.wave)
	for n := min(g.toSpawn, 2+g.wave, maxEnemies-len(g.enemies)); n > 0; n-- {
		// Enter from a random point just outside one of the four edges.
		x, y := g.rng.Float64()*screenW, hudH+g.rng.Float64()*(screenH-hudH)
		switch g.rng.IntN(4) {
		case 0:
			y = hudH - 30
		case 1:
			y = screenH + 30
		case 2:
			x = -30
		default:
			x = screenW + 30
		}
		k := chaser
		if r := g.rng.IntN(100); g.wave >= 2 && r < 6+2*g.wave {
			k = brute // brutes join from wave 2, more each wave
		} else if r < 45 {
			k = weaver
		}
		g.enemies = append(g.enemies, enemy{x: x, y: y, kind: k, hp: kinds[k].hp, phase: g.rng.Float64() * 2 * math.Pi})
		g.toSpawn--
	}
}

func (g *game) moveEnemies() {
	for i := range g.enemies {
		e := &g.enemies[i]
		dx, dy := g.p.x-e.x, g.p.y-e.y
		d, speed := math.Hypot(dx, dy)+1e-9, kinds[e.kind].speed
		e.vx, e.vy = dx/d*speed, dy/d*speed
		if e.kind == weaver { // sway sideways while closing in
			s := 1.8 * math.Sin(float64(g.tick)*0.07+e.phase)
			e.vx, e.vy = e.vx-dy/d*s, e.vy+dx/d*s
		}
		e.x, e.y = e.x+e.vx, e.y+e.vy
		e.angle = math.Atan2(dy, dx)
		e.flash = max(0, e.flash-1)
	}
	// Push overlapping enemies apart so a wave reads as a swarm, not a blob.
	// Quadratic, but 150 enemies are only ~11k pairs a tick.
	for i := range g.enemies {
		a := &g.enemies[i]
		for j := i + 1; j < len(g.enemies); j++ {
			b := &g.enemies[j]
			dx, dy := b.x-a.x, b.y-a.y
			r := kinds[a.kind].radius + kinds[b.kind].radius
			if d2 := dx*dx + dy*dy; d2 < r*r && d2 > 1e-6 {
				push := (r/math.Sqrt(d2) - 1) * 0.25
				a.x, a.y = a.x-dx*push, a.y-dy*push
				b.x, b.y = b.x+dx*push, b.y+dy*push
			}
		}
	}
}

// moveBullets flies the bullets; one that hits an enemy wounds it and is spent.
func (g *game) moveBullets() {
	for i := range g.bullets {
		b := &g.bullets[i]
		b.x, b.y, b.life = b.x+b.vx, b.y+b.vy, b.life-1
		for j := range g.enemies {
			e := &g.enemies[j]
			if r := kinds[e.kind].radius + 2; (b.x-e.x)*(b.x-e.x)+(b.y-e.y)*(b.y-e.y) < r*r {
				e.hp, e.flash, b.life = e.hp-1, 4, 0
				g.burst(b.x, b.y, 5, kinds[e.kind].tint, 3)
				break
			}
		}
	}
	g.bullets = slices.DeleteFunc(g.bullets, func(b bullet) bool {
		return b.life <= 0 || b.x < -20 || b.x > screenW+20 || b.y < -20 || b.y > screenH+20
	})
}

// resolveEnemies removes the dead (scoring them) and those that rammed the
// ship (costing it a hit point), each in an explosion.
func (g *game) resolveEnemies() {
	g.enemies = slices.DeleteFunc(g.enemies, func(e enemy) bool {
		k := kinds[e.kind]
		switch {
		case e.hp <= 0:
			g.score += k.score
		case g.p.invuln == 0 && math.Hypot(e.x-g.p.x, e.y-g.p.y) < k.radius+playerRadius:
			g.hurtPlayer()
		default:
			return false
		}
		g.burst(e.x, e.y, k.particles, k.tint, 5)
		g.burst(e.x, e.y, k.particles/3, white, 3)
		g.shockwave(e.x, e.y, 20+2*float64(k.particles), k.tint)
		return true
	})
}

func (g *game) hurtPlayer() {
	g.p.hp, g.p.invuln, g.shake = g.p.hp-1, invulnTicks, 15
	if g.p.hp > 0 {
		return
	}
	g.over, g.overTicks, g.best, g.shake = true, 0, max(g.best, g.score), 40
	g.burst(g.p.x, g.p.y, 300, shipColor, 8)
	g.shockwave(g.p.x, g.p.y, 200, shipColor)
}

// burst adds n particles flying out of (x, y) at up to speed pixels a tick.
// Past maxParticles new ones are dropped: effects are capped, not the game.
func (g *game) burst(x, y float64, n int, col color.RGBA, speed float64) {
	for ; n > 0 && len(g.particles) < maxParticles; n-- {
		sin, cos := math.Sincos(g.rng.Float64() * 2 * math.Pi)
		v := speed * (0.2 + 0.8*g.rng.Float64())
		life := 15 + g.rng.IntN(35)
		g.particles = append(g.particles, particle{bullet{x, y, cos * v, sin * v, life}, life, col, 0})
	}
}

func (g *game) shockwave(x, y, size float64, col color.RGBA) {
	if len(g.particles) < maxParticles {
		g.particles = append(g.particles, particle{bullet{x, y, 0, 0, ringLife}, ringLife, col, size})
	}
}

func (g *game) updateEffects() {
	for i := range g.particles {
		p := &g.particles[i]
		p.x, p.y, p.life = p.x+p.vx, p.y+p.vy, p.life-1
		p.vx, p.vy = p.vx*0.95, p.vy*0.95 // drag: bursts slow down and hang
	}
	g.particles = slices.DeleteFunc(g.particles, func(p particle) bool { return p.life <= 0 })
	g.shake = max(0, g.shake-1)
}

package main

import "math"

// autopilot flies the ship for -autoplay. It is deliberately simple: flee
// what is close, drift back towards the middle (corners are traps), and shoot
// where the nearest enemy will be. It survives a few waves, then dies and
// the game restarts itself, so a demo or benchmark runs indefinitely.
func (g *game) autopilot() controls {
	p := g.p
	var c controls
	var fx, fy float64
	nearest, nearestD := -1, math.Inf(1)
	for i, e := range g.enemies {
		dx, dy := p.x-e.x, p.y-e.y
		d := math.Hypot(dx, dy) + 1e-9
		if d < nearestD {
			nearest, nearestD = i, d
		}
		// Each enemy within reach pushes the ship away, harder the closer it is.
		const reach = 200
		if d < reach {
			w := (reach - d) / reach
			fx, fy = fx+dx/d*w*w, fy+dy/d*w*w
		}
	}
	// Without a threat, circle the middle; with one, the pull to the middle
	// grows towards the walls so the ship does not get pinned.
	cx := screenW/2 + 220*math.Cos(float64(g.tick)*0.01) - p.x
	cy := (screenH+hudH)/2 + 120*math.Sin(float64(g.tick)*0.01) - p.y
	pull := 1.2 * math.Hypot(cx/screenW, cy/screenH)
	if l := math.Hypot(cx, cy); l > 1 {
		fx, fy = fx+cx/l*pull, fy+cy/l*pull
	}
	if l := math.Hypot(fx, fy); l > 0.05 {
		c.dx, c.dy = fx/l, fy/l
	}

	if nearest >= 0 {
		// Lead the target: aim where it will be when the bullet gets there.
		e := g.enemies[nearest]
		t := nearestD / bulletSpeed
		c.aim = math.Atan2(e.y+e.vy*t-p.y, e.x+e.vx*t-p.x)
		c.fire = true
	} else {
		c.aim = p.aim
	}
	return c
}

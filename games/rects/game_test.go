package main

import (
	"testing"

	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
)

func run(g *game, w, h, ticks int) {
	g.Layout(w, h)
	in := inputtest.New()
	for range ticks {
		if err := g.Update(in.Tick()); err != nil {
			panic(err)
		}
	}
}

// The scene is what the benchmarks promise: 200 rectangles of 8-64 px,
// alpha 160-255, from an 8-colour palette, moving at most 6 px a tick and
// always inside the screen.
func TestSceneStaysInsideTheScreen(t *testing.T) {
	for _, size := range [][2]int{{1280, 720}, {1920, 1080}, {320, 240}} {
		g := newGame(3)
		g.Layout(size[0], size[1])
		in := inputtest.New()
		prev := map[int]rect{}
		colours := map[[3]uint8]bool{}
		for tick := range 600 {
			if err := g.Update(in.Tick()); err != nil {
				t.Fatal(err)
			}
			if len(g.rects) != numRects {
				t.Fatalf("%d rects, want %d", len(g.rects), numRects)
			}
			for i, r := range g.rects {
				if r.w < minSide || r.w > maxSide || r.h < minSide || r.h > maxSide {
					t.Fatalf("rect %d is %gx%g", i, r.w, r.h)
				}
				if r.x < 0 || r.y < 0 || r.x+r.w > float64(size[0]) || r.y+r.h > float64(size[1]) {
					t.Fatalf("%v tick %d: rect %d at (%g,%g) %gx%g leaves the screen", size, tick, i, r.x, r.y, r.w, r.h)
				}
				if r.col.A < minAlpha {
					t.Fatalf("rect %d alpha %d", i, r.col.A)
				}
				if p, ok := prev[i]; ok && (abs(r.x-p.x) > maxSpeed+1e-9 || abs(r.y-p.y) > maxSpeed+1e-9) {
					t.Fatalf("rect %d moved from (%g,%g) to (%g,%g) in a tick", i, p.x, p.y, r.x, r.y)
				}
				prev[i] = r
				colours[[3]uint8{r.col.R, r.col.G, r.col.B}] = true
			}
		}
		if len(colours) > len(palette) || len(colours) < 4 {
			t.Errorf("%d colours in use, want a few of the %d of the palette", len(colours), len(palette))
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// The same seed and size give the same scene; another seed another one.
func TestDeterministicWithSeed(t *testing.T) {
	a, b, c := newGame(7), newGame(7), newGame(8)
	run(a, 1280, 720, 300)
	run(b, 1280, 720, 300)
	run(c, 1280, 720, 300)
	for i := range a.rects {
		if a.rects[i] != b.rects[i] {
			t.Fatalf("seed 7 twice: rect %d differs: %+v vs %+v", i, a.rects[i], b.rects[i])
		}
	}
	same := 0
	for i := range a.rects {
		if a.rects[i] == c.rects[i] {
			same++
		}
	}
	if same == len(a.rects) {
		t.Error("seeds 7 and 8 drew the same scene")
	}
}

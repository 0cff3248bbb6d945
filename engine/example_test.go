package engine_test

import (
	"fmt"
	"image/color"
	"io"
	"log"
	"os"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
)

// square is the smallest complete game: a square the arrow keys move.
type square struct{ x, y float64 }

func (g *square) Update(in *input.State) error {
	if in.JustPressed(input.KeyEscape) {
		return engine.ErrQuit
	}
	if in.Pressed(input.KeyLeft) {
		g.x -= 2
	}
	if in.Pressed(input.KeyRight) {
		g.x += 2
	}
	return nil
}

func (g *square) Draw(screen *gfx.Canvas) {
	screen.Clear(color.RGBA{20, 20, 40, 255})
	screen.FillRect(g.x, g.y, 32, 32, color.RGBA{255, 220, 0, 255})
	// DefaultFace is cached: calling it here every frame costs a map lookup.
	screen.Text("arrows move, Esc quits", gfx.DefaultFace(16), 8, 8, color.White)
}

func (g *square) Layout(int, int) (int, int) { return 640, 360 }

// A game's main. This example is compiled but not run (it has no Output):
// Run opens a window, which needs a display.
func ExampleRun() {
	opts := engine.MustParseFlags("square", os.Args[1:])
	if err := engine.Run(&square{x: 300, y: 160}, opts); err != nil {
		log.Fatal(err)
	}
}

// The flags every game accepts, and their defaults. This one runs: parsing
// needs no display.
func ExampleParseFlags() {
	opts, err := engine.ParseFlags("square", []string{"-frames", "120", "-autoplay", "-seed", "7"}, io.Discard)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("window %dx%d, %d ticks/s, %d frames, autoplay %v with seed %d, vsync %v\n",
		opts.Width, opts.Height, opts.TPS, opts.MaxFrames, opts.Autoplay, opts.Seed, !opts.VSyncOff)
	_, err = engine.ParseFlags("square", []string{"-size", "big"}, io.Discard)
	fmt.Println(err)
	// Output:
	// window 1280x720, 60 ticks/s, 120 frames, autoplay true with seed 7, vsync true
	// invalid value "big" for flag -size: want WIDTHxHEIGHT, e.g. 1280x720
}

package main

import (
	"bufio"
	"fmt"
	"image/color"
	"log"
	"os"
	"time"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
)

// CodeBits cells of CodeCell pixels along the top edge carry the frame's
// number, most significant bit first; a white cell is a 1.
const (
	CodeBits = 16
	CodeCell = 10
	W, H     = 320, 240
)

type game struct {
	n     uint64
	drawn []time.Time // drawn[n]: when frame n was drawn
}

func (g *game) Update(*input.State) error { return nil }

func (g *game) Draw(screen *gfx.Canvas) {
	n := g.n
	g.n++
	g.drawn = append(g.drawn, time.Now())
	screen.Clear(color.RGBA{16, 16, 32, 255})
	// Something moving, so that frames differ beyond their number.
	x := float64((n * 3) % (W - 40))
	screen.FillRect(x, 60, 40, 40, color.RGBA{250, 180, 20, 255})
	screen.FillCircle(W/2, 160, float64(10+n%30), color.RGBA{40, 160, 250, 255})
	for b := range CodeBits {
		c := color.RGBA{0, 0, 0, 255}
		if n>>(CodeBits-1-b)&1 == 1 {
			c = color.RGBA{255, 255, 255, 255}
		}
		screen.FillRect(float64(b*CodeCell), 0, CodeCell, CodeCell, c)
	}
}

func (g *game) Layout(int, int) (int, int) { return W, H }

func main() {
	opts := engine.MustParseFlags("livegame", os.Args[1:])
	g := &game{}
	err := engine.Run(g, opts)
	if path := os.Getenv("LIVEGAME_TIMES"); path != "" {
		if werr := writeTimes(path, g.drawn); werr != nil {
			log.Print(werr)
		}
	}
	if err != nil {
		log.Fatal(err)
	}
}

func writeTimes(path string, drawn []time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for n, t := range drawn {
		fmt.Fprintf(w, "%d %d\n", n, t.UnixNano())
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

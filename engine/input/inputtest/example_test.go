package inputtest_test

import (
	"fmt"

	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
)

// A game's Update reads the State; a test queues events and ticks.
func Example() {
	x := 0.0
	update := func(in *input.State) {
		if in.Pressed(input.KeyRight) {
			x += 2
		}
		if in.JustPressed(input.KeySpace) {
			fmt.Println("jump at tick", in.Tick())
		}
	}
	d := inputtest.New()
	d.Press(input.KeyRight)
	for range 3 {
		update(d.Tick())
	}
	d.Release(input.KeyRight)
	d.Tap(input.KeySpace)
	update(d.Tick())
	fmt.Println("x =", x)
	// Output:
	// jump at tick 4
	// x = 6
}

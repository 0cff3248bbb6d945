package main

import (
	"fmt"
	"os"

	"github.com/skyloop-engine/skyloop/engine"
)

func main() {
	opts := engine.MustParseFlags("rects", os.Args[1:])
	if err := engine.Run(newGame(opts.Seed), opts); err != nil {
		fmt.Fprintln(os.Stderr, "rects:", err)
		os.Exit(1)
	}
}

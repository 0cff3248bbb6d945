package main

import (
	"fmt"
	"os"

	"github.com/skyloop-engine/skyloop/engine"
)

func main() {
	opts := engine.MustParseFlags("arena", os.Args[1:])
	if err := engine.Run(newGame(opts.Seed, opts.Autoplay), opts); err != nil {
		fmt.Fprintln(os.Stderr, "arena:", err)
		os.Exit(1)
	}
}

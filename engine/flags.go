package engine

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// sizeValue parses "WxH".
type sizeValue struct{ w, h *int }

func (s sizeValue) String() string {
	if s.w == nil {
		return ""
	}
	return fmt.Sprintf("%dx%d", *s.w, *s.h)
}

func (s sizeValue) Set(v string) error {
	ws, hs, ok := strings.Cut(strings.ToLower(v), "x")
	if !ok {
		return fmt.Errorf("want WIDTHxHEIGHT, e.g. 1280x720")
	}
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	if errW != nil || errH != nil {
		return fmt.Errorf("want WIDTHxHEIGHT with whole numbers, e.g. 1280x720")
	}
	if w < 1 || h < 1 || w > 16384 || h > 16384 {
		return fmt.Errorf("%dx%d out of range: each side must be 1..16384", w, h)
	}
	*s.w, *s.h = w, h
	return nil
}

// ParseFlags parses the command-line options every skyloop game accepts:
//
//	-size WxH   -frames N   -autoplay   -seed S   -config FILE
//	-vsync=false   -tps N   -fullscreen   -bench   -headless
//
// name is the program name shown in usage. A bad value is reported on
// usageOut naming the flag and the accepted form, and returned as an error;
// flag.ErrHelp is returned for -h.
func ParseFlags(name string, args []string, usageOut io.Writer) (Options, error) {
	opts := Options{Title: name, Width: 1280, Height: 720}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usageOut)
	fs.Var(sizeValue{&opts.Width, &opts.Height}, "size", "window size `WxH`")
	fs.Func("frames", "run `N` frames, then exit 0 (default 0: until closed)", intRange(&opts.MaxFrames, 0, 1<<31-1))
	fs.BoolVar(&opts.Autoplay, "autoplay", false, "the game plays itself (deterministic with -seed)")
	fs.Int64Var(&opts.Seed, "seed", 1, "random `seed` for the game")
	fs.Func("config", "config `FILE` (TOML)", func(v string) error {
		if _, err := os.Stat(v); err != nil {
			return fmt.Errorf("cannot read config file: %w", err)
		}
		opts.ConfigPath = v
		return nil
	})
	vsync := fs.Bool("vsync", true, "wait for the display's refresh (-vsync=false renders as fast as possible)")
	opts.TPS = DefaultTPS
	fs.Func("tps", "game ticks (Updates) per `second` (default 60)", intRange(&opts.TPS, 1, 1000))
	fs.BoolVar(&opts.Fullscreen, "fullscreen", false, "fullscreen on the primary monitor")
	fs.BoolVar(&opts.PrintFrameTime, "bench", false, "print frame-time statistics (median, p99, fps) and capture counters on exit")
	fs.StringVar(&opts.StatsJSON, "bench-json", "", "write the -bench statistics as JSON to `FILE` on exit (read by skyloop bench capture)")
	fs.Func("fps", "cap the frame rate at `N` frames per second (default 0: no cap beyond vsync)", func(v string) error {
		var f float64
		if _, err := fmt.Sscanf(v, "%g", &f); err != nil || f < 0 || f > 10000 {
			return fmt.Errorf("want a number of frames per second, 0..10000")
		}
		opts.MaxFPS = f
		return nil
	})
	fs.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a Go CPU profile to `FILE`")
	fs.BoolVar(&opts.Lockstep, "lockstep", false, "exactly one tick per frame (repeatable recordings of -autoplay runs)")
	fs.Var(headlessFlag{&opts.Headless}, "headless", "render with no window through EGL (-headless=false: never; default auto: when there is no display)")
	capture := fs.Bool("capture", true, "record (when the config enables capture); -capture=false turns it off")
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	opts.VSyncOff = !*vsync
	opts.CaptureOff = !*capture
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q: flags start with -", fs.Arg(0))
		fmt.Fprintln(usageOut, err)
		fs.Usage()
		return Options{}, err
	}
	return opts, nil
}

// intRange returns a flag setter accepting whole numbers in [lo, hi].
func intRange(dst *int, lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d out of range %d..%d", n, lo, hi)
		}
		*dst = n
		return nil
	}
}

// MustParseFlags is ParseFlags on os-level terms for a game's main: on a bad
// flag it prints the problem and the usage and exits with status 2; -h
// prints the usage and exits 0.
func MustParseFlags(name string, args []string) Options {
	opts, err := ParseFlags(name, args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2) // ParseFlags already printed the problem and the usage
	}
	return opts
}

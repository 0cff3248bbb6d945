package engine

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTickSchedulerRunsExactlyTPSTicksWhateverTheFrameRate(t *testing.T) {
	const tps = 60
	step := time.Second / tps
	for _, frameTime := range []time.Duration{time.Millisecond, 7 * time.Millisecond, step, 33 * time.Millisecond, 250 * time.Millisecond} {
		s := newTickScheduler(tps)
		var now time.Duration
		total := 0
		for now <= 10*time.Second {
			total += s.ticks(now)
			now += frameTime
		}
		last := now - frameTime
		want := 1 + int(last/step)
		if total != want {
			t.Errorf("frame time %v: %d ticks over %v, want %d", frameTime, total, last, want)
		}
	}
}

func TestTickSchedulerDropsBacklogOverOneSecond(t *testing.T) {
	s := newTickScheduler(60)
	s.ticks(0)
	if n := s.ticks(5 * time.Second); n != 60 {
		t.Fatalf("after a 5 s stall: %d ticks, want the 60-tick cap", n)
	}
	if n := s.ticks(5*time.Second + time.Second/60); n != 1 {
		t.Fatalf("after the stall: %d ticks, want 1 (backlog dropped)", n)
	}
}

func TestLetterbox(t *testing.T) {
	for _, tc := range []struct {
		winW, winH, sw, sh int
		want               image.Rectangle
	}{
		{640, 480, 320, 240, image.Rect(0, 0, 640, 480)},   // exact 2x
		{400, 200, 100, 100, image.Rect(100, 0, 300, 200)}, // pillarbox
		{200, 400, 100, 100, image.Rect(0, 100, 200, 300)}, // letterbox
		{1920, 1080, 640, 480, image.Rect(240, 0, 1680, 1080)},
		{0, 0, 10, 10, image.Rectangle{}},
	} {
		if got := letterbox(tc.winW, tc.winH, tc.sw, tc.sh); got != tc.want {
			t.Errorf("letterbox(%d,%d,%d,%d) = %v, want %v", tc.winW, tc.winH, tc.sw, tc.sh, got, tc.want)
		}
	}
	x, y := windowToScreen(200, 100, image.Rect(100, 0, 300, 200), 100, 100)
	if x != 50 || y != 50 {
		t.Errorf("windowToScreen centre = %v,%v, want 50,50", x, y)
	}
}

func TestParseFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o, err := ParseFlags("g", []string{"-size", "1920x1080", "-frames", "600", "-autoplay", "-seed", "7", "-config", cfg, "-vsync=false", "-tps", "120"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if o.Width != 1920 || o.Height != 1080 || o.MaxFrames != 600 || !o.Autoplay || o.Seed != 7 || o.ConfigPath != cfg || !o.VSyncOff || o.TPS != 120 {
		t.Fatalf("parsed %+v", o)
	}
	o, err = ParseFlags("g", nil, &out)
	if err != nil || o.TPS != 60 || o.VSyncOff || o.MaxFrames != 0 {
		t.Fatalf("defaults: %+v %v", o, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-size", "big"}, "-size: want WIDTHxHEIGHT"},
		{[]string{"-size", "0x10"}, "out of range"},
		{[]string{"-frames", "-1"}, "-frames: -1 out of range"},
		{[]string{"-frames", "ten"}, "-frames: want a whole number"},
		{[]string{"-tps", "0"}, "-tps: 0 out of range"},
		{[]string{"-config", "/nonexistent/x.toml"}, "-config: cannot read config file"},
		{[]string{"-vsync=maybe"}, "-vsync"},
		{[]string{"-nope"}, "not defined: -nope"},
		{[]string{"stray"}, `unexpected argument "stray"`},
	} {
		out.Reset()
		_, err := ParseFlags("g", tc.args, &out)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: printed %q, want it to mention %q", tc.args, out.String(), tc.want)
		}
	}
	if _, err := ParseFlags("g", []string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

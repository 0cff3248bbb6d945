//go:build linux

package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/engine/spool"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
)

// stopSinkGame SIGSTOPs its only sink's plugin at tick stopAt, once the
// spool has delivered two items (segments) to it, and notes when each tick
// ran.
type stopSinkGame struct {
	sceneGame
	stopAt int
	pid    atomic.Int64 // the stopped plugin
	last   atomic.Int64 // UnixNano of the last Update
	err    error
}

func (g *stopSinkGame) Update(in *input.State) error {
	g.last.Store(time.Now().UnixNano())
	if g.ticks == g.stopAt && current != nil && current.opts.storage != nil {
		g.stopSink(current.opts.storage)
	}
	return g.sceneGame.Update(in)
}

func (g *stopSinkGame) stopSink(st *storage) {
	deadline := time.Now().Add(20 * time.Second)
	for st.sp.Stats().Sinks[0].Delivered < 2 || !st.sinks[0].Up() {
		if time.Now().After(deadline) {
			g.err = fmt.Errorf("tick %d: the sink did not take two segments in 20s: %+v", g.ticks, st.sp.Stats().Sinks[0])
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	pid := st.sinks[0].Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		g.err = err
		return
	}
	g.pid.Store(int64(pid))
}

// A game whose only sink's plugin is SIGSTOPped mid-run (it never answers
// again) exits within exit_wait_seconds plus exitMargin, its plugin killed
// and reaped; the segments it did not deliver are in the spool, and the
// next start delivers them: every frame reaches the sink.
func TestHangGameExitsWithItsPluginStopped(t *testing.T) {
	enginetest.RequireDisplay(t)
	const (
		frames   = 60
		perSeg   = 10
		exitWait = 500 * time.Millisecond
		// A hang is what is tested, not speed: generous for a loaded
		// 2-core machine (the bound itself is exitWait + exitMargin).
		slack = 5 * time.Second
	)
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "disk")
	pluginExe := []byte(filepath.Join(pluginDir, "skyloop-plugin-disk"))
	root, spoolDir := filepath.Join(dir, "sink"), filepath.Join(dir, "spool")
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = %g\n[capture]\nsegment_frames = %d\ndrop = \"block\"\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		pluginDir, spoolDir, exitWait.Seconds(), perSeg, root)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &stopSinkGame{sceneGame: sceneGame{w: 64, h: 48, draw: func(c *gfx.Canvas) { c.Clear(blue) }}, stopAt: 25}
	// Whatever happens, nothing stopped is left behind.
	unstop := func() {
		pid := int(g.pid.Load())
		if pid == 0 {
			return
		}
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.HasPrefix(cmd, pluginExe) {
			syscall.Kill(pid, syscall.SIGCONT)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	t.Cleanup(unstop)
	// A watchdog turns a hang into a failure (it kills the stopped
	// plugin, which is what ends the old, unbounded shutdown).
	var hung atomic.Bool
	runDone := make(chan struct{})
	go func() {
		select {
		case <-runDone:
		case <-time.After(time.Minute):
			hung.Store(true)
			unstop()
		}
	}()
	var stats FrameStats
	err := Run(g, Options{Name: "hang", Width: 64, Height: 48, MaxFrames: frames, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Stats: &stats})
	exited := time.Now()
	close(runDone)
	if hung.Load() {
		t.Fatal("Run did not return within a minute of its plugin being stopped: the game hangs at exit")
	}
	if err != nil {
		t.Fatal(err)
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	pid := int(g.pid.Load())
	if pid == 0 {
		t.Fatal("the sink never came up: nothing was stopped")
	}
	exitTook := exited.Sub(time.Unix(0, g.last.Load()))
	t.Logf("exit took %v after the last tick (exit wait %v, margin %v)", exitTook.Round(time.Millisecond), exitWait, exitMargin)
	if exitTook > exitWait+exitMargin+slack {
		t.Errorf("the game took %v to exit after its last tick; the bound is exit_wait %v + %v", exitTook, exitWait, exitMargin)
	}
	if !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		t.Errorf("the stopped plugin %d still exists after Run returned", pid)
	}
	if m := stats.Capture; m.FramesEncoded != frames || m.Segments != frames/perSeg || m.Dropped() != 0 {
		t.Fatalf("not everything was recorded into the spool: %s", m)
	}
	if len(stats.Sessions) != 1 {
		t.Fatalf("sessions %v, want 1", stats.Sessions)
	}
	prefix := "hang/tester/sessions/" + stats.Sessions[0] + "/"
	want := []string{segment.ManifestKey(prefix)}
	for i := range frames / perSeg {
		want = append(want, fmt.Sprintf("%s%08d.seg", prefix, i))
	}
	have := func() (n int) {
		for _, k := range want {
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(k))); err == nil {
				n++
			}
		}
		return n
	}
	delivered := have()
	spooled, _ := filepath.Glob(filepath.Join(spoolDir, "hang", "data", "*"))
	t.Logf("delivered before the stop: %d of %d items; in the spool: %d", delivered, len(want), len(spooled))
	if len(spooled) == 0 || delivered < 2 || delivered == len(want) {
		t.Fatalf("the stopped plugin held nothing back (%d delivered, %d spooled): the test proves nothing", delivered, len(spooled))
	}

	// The next start (here the spool reopened with a fresh plugin, as a
	// game's next run does) delivers what stayed in the spool.
	sink, err := skysync.Start(context.Background(), skysync.SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": root}}, skysync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sp, err := spool.Open(filepath.Join(spoolDir, "hang"), []spool.Sink{sink}, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sp.Stats().Sinks[0].Pending > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the spool did not deliver what the stopped plugin held back: %+v", sp.Stats().Sinks[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := sp.Stats().Sinks[0]; st.Parked != 0 {
		t.Fatalf("items parked: %+v", sp.Failed())
	}
	if err := sp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := have(); n != len(want) {
		t.Fatalf("%d of %d items in the sink after the spool's replay", n, len(want))
	}
	decoded := 0
	for _, k := range want[1:] {
		var buf bytes.Buffer
		if _, err := sink.Get(context.Background(), k, &buf, sdk.GetOptions{Length: -1}); err != nil {
			t.Fatal(err)
		}
		fs, err := segment.Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		decoded += len(fs)
	}
	if decoded != frames {
		t.Fatalf("%d frames in the sink, want %d", decoded, frames)
	}
}

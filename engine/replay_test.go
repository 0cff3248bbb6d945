package engine

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// replayGame draws a different picture every frame (a block that moves, a
// bar as long as the frame number), keeps each frame's hash and, when
// asked, the window as shown; its clock reads 100 ms more at every Draw,
// so frame i (from 0) is captured at 100 ms·(i+1) on the engine's clock.
type replayGame struct {
	w, h   int
	now    time.Duration
	tick   int
	script func(l *loop, tick int)
	drawn  [][32]byte
	pix    [][]byte // the drawn frames' pixels
	window []*image.RGBA
	err    error
}

func (g *replayGame) Update(*input.State) error {
	g.tick++
	g.script(current, g.tick)
	return g.err
}

func (g *replayGame) Layout(int, int) (int, int) { return g.w, g.h }

func (g *replayGame) Draw(c *gfx.Canvas) {
	g.now += 100 * time.Millisecond
	n := len(g.drawn)
	c.Clear(color.RGBA{30, 60, 90, 255})
	c.FillRect(float64(n*3%(g.w-10)), 8, 10, 10, color.RGBA{250, 220, 0, 255})
	c.FillRect(0, float64(g.h-3), float64(n%g.w+1), 3, color.RGBA{255, 255, 255, 255})
	img, err := c.ReadPixels()
	if err != nil {
		g.err = err
		return
	}
	g.drawn = append(g.drawn, sha256.Sum256(img.Pix))
	g.pix = append(g.pix, img.Pix)
}

// replayRun runs replayGame for frames frames in lockstep with a config
// that records to the real disk plugin (capture.* settings in capture),
// calling script from every Update. It returns the game, the sink's root,
// the log and the run's statistics.
func replayRun(t *testing.T, w, h, frames int, capture string, keepWindow bool, script func(l *loop, tick int)) (*replayGame, string, string, FrameStats) {
	t.Helper()
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "sink")
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = 30\n[capture]\ndrop = \"block\"\n%s\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		enginetest.BuildPlugin(t, "disk"), filepath.Join(dir, "spool"), capture, root)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &replayGame{w: w, h: h, script: script}
	var logs enginetest.LogBuffer
	var stats FrameStats
	opts := Options{Name: "replaytest", Width: w, Height: h, FixedSize: true, MaxFrames: frames, VSyncOff: true, Lockstep: true,
		ConfigPath: cfg, Stats: &stats, Logger: testLogger(&logs), Clock: func() time.Duration { return g.now }}
	if keepWindow {
		opts.afterPresent = func(ww, wh int) { g.window = append(g.window, readWindow(ww, wh)) }
	}
	if err := Run(g, opts); err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	if len(g.drawn) != frames {
		t.Fatalf("%d frames drawn, want %d", len(g.drawn), frames)
	}
	return g, root, logs.String(), stats
}

// storedSession is one session in the disk sink, decoded.
type storedSession struct {
	id       string
	manifest segment.Manifest
	hashes   [][32]byte // per frame, in order
	keys     []bool     // per frame: stored as a key frame
	segFirst []bool     // per segment: starts on a key frame
}

// readSessions decodes every session of the game in the disk sink, in id
// order, failing t unless each is complete: segments 0..N-1 as the end
// record says, frames numbered from 0 without a gap, counts and times
// agreeing with the end record, the id made from its start.
func readSessions(t *testing.T, root string) []storedSession {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(root, "replaytest", "tester", "sessions", "*"))
	slices.Sort(dirs)
	var out []storedSession
	for _, d := range dirs {
		s := storedSession{id: filepath.Base(d)}
		data, err := os.ReadFile(filepath.Join(d, segment.ManifestName))
		if err != nil {
			t.Fatalf("session %s has no end record: %v", s.id, err)
		}
		if s.manifest, err = segment.ParseManifest(data); err != nil {
			t.Fatalf("session %s: %v", s.id, err)
		}
		m := s.manifest
		segs, _ := filepath.Glob(filepath.Join(d, "*.seg"))
		slices.Sort(segs)
		if uint64(len(segs)) != m.Segments {
			t.Fatalf("session %s: %d segment files, the end record says %d", s.id, len(segs), m.Segments)
		}
		var first, last time.Time
		for i, p := range segs {
			if filepath.Base(p) != fmt.Sprintf("%08d.seg", i) {
				t.Fatalf("session %s: segment files %q do not run on from 00000000.seg", s.id, segs)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := segment.Decode(data)
			if err != nil {
				t.Fatalf("session %s segment %d: %v", s.id, i, err)
			}
			s.segFirst = append(s.segFirst, len(fs) > 0 && fs[0].Key)
			for _, f := range fs {
				if f.Seq != uint64(len(s.hashes)) {
					t.Fatalf("session %s: frame %d follows %d frames: a gap", s.id, f.Seq, len(s.hashes))
				}
				if len(s.hashes) == 0 {
					first = f.Time
				}
				last = f.Time
				s.hashes = append(s.hashes, sha256.Sum256(f.Image.Pix))
				s.keys = append(s.keys, f.Key)
			}
		}
		n := uint64(len(s.hashes))
		if m.Frames != n || m.Sequenced != n || m.Dropped != 0 || len(m.Lost) != 0 {
			t.Fatalf("session %s: end record says %d sequenced, %d written, %d dropped, %d lost; %d frames decoded",
				s.id, m.Sequenced, m.Frames, m.Dropped, len(m.Lost), n)
		}
		if m.Replay && (m.Start.After(first) || first.Sub(m.Start) > time.Microsecond || !m.End.Equal(last)) {
			t.Fatalf("clip %s: end record from %v to %v, its frames from %v to %v", s.id, m.Start, m.End, first, last)
		}
		if id := segment.NewSessionID(m.Start); id != s.id {
			t.Fatalf("session %s: the id is not made from the end record's start (%s)", s.id, id)
		}
		out = append(out, s)
	}
	return out
}

// clips returns the sessions that are replay clips, and the others.
func clips(ss []storedSession) (replays, recordings []storedSession) {
	for _, s := range ss {
		if s.manifest.Replay {
			replays = append(replays, s)
		} else {
			recordings = append(recordings, s)
		}
	}
	return replays, recordings
}

// wantFrames fails t unless s holds exactly drawn frames from..to, starting
// with a key frame, every segment starting with one.
func wantFrames(t *testing.T, s storedSession, g *replayGame, from, to int) {
	t.Helper()
	if len(s.hashes) != to-from+1 {
		t.Fatalf("session %s holds %d frames, want %d (drawn frames %d..%d)", s.id, len(s.hashes), to-from+1, from, to)
	}
	for i, h := range s.hashes {
		if h != g.drawn[from+i] {
			j := slices.Index(g.drawn, h)
			t.Fatalf("session %s frame %d is drawn frame %d, want %d", s.id, i, j, from+i)
		}
	}
	for i, k := range s.segFirst {
		if !k {
			t.Fatalf("session %s: segment %d starts on a delta frame", s.id, i)
		}
	}
}

// waitClips blocks the game (in Update) until n clips are saved, so what
// the window shows next is deterministic.
func waitClips(t *testing.T, n uint64) {
	deadline := time.Now().Add(time.Minute)
	for CaptureMetrics().ReplayClips+CaptureMetrics().ReplaySavesFailed < n {
		if time.Now().After(deadline) {
			t.Errorf("%d clips not saved within a minute", n)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// capture.mode = "replay": nothing reaches the spool or the sink before a
// save; a save (tick 40, after frames 0..38) stores exactly the frames
// captured less than replay_seconds (1.5 s: 15 frames) before the newest —
// frames 24..38, where 24 is a delta frame in the buffer (key frames every
// 7) — starting on a key frame, in segments of 4, with an end record that
// agrees; a log line and the window say it was saved; and nothing else is
// ever stored.
func TestReplaySavesOnlyTheLastSeconds(t *testing.T) {
	checked := false
	var notice string
	g, root, logs, stats := replayRun(t, 64, 48, 60, "mode = \"replay\"\nreplay_seconds = 1.5\nkey_interval = 7\nsegment_frames = 4", false, func(l *loop, tick int) {
		switch tick {
		case 30:
			// 29 frames buffered, no save yet: nothing stored anywhere.
			spoolDir := filepath.Join(l.opts.config.SpoolDir, "replaytest")
			st := l.opts.storage.sp.Stats()
			delivered := int64(0)
			for _, sk := range st.Sinks {
				delivered += sk.Delivered
			}
			if files := segFiles(t, spoolDir); st.Items != 0 || delivered != 0 || len(files) != 0 {
				t.Errorf("before any save the spool holds %d items, delivered %d, files with keys %q", st.Items, delivered, files)
			}
			sinkGame := filepath.Join(l.opts.config.Sinks[0].Settings["root"].(string), "replaytest")
			if _, err := os.Stat(sinkGame); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("before any save the sink holds %s: %v", sinkGame, err)
			}
			checked = true
		case 40:
			if err := SaveReplay(); err != nil {
				t.Errorf("SaveReplay: %v", err)
			}
			if l.hud.notice != "Saving replay…" {
				t.Errorf("after SaveReplay the window says %q", l.hud.notice)
			}
		case 50:
			waitClips(t, 1)
		case 51:
			notice = l.hud.notice
		}
	})
	if !checked {
		t.Fatal("the check before the save did not run")
	}
	replays, recordings := clips(readSessions(t, root))
	if len(replays) != 1 || len(recordings) != 0 {
		t.Fatalf("%d clips and %d recordings stored, want 1 clip only", len(replays), len(recordings))
	}
	c := replays[0]
	wantFrames(t, c, g, 24, 38)
	if len(c.segFirst) != 4 {
		t.Errorf("clip in %d segments, want 4 (segment_frames = 4)", len(c.segFirst))
	}
	if want := fmt.Sprintf("Replay saved: 1.4 s, 15 frames (%s)", c.id); notice != want {
		t.Errorf("the window said %q after the save, want %q", notice, want)
	}
	if !strings.Contains(logs, `msg="replay saved" session=`+c.id) || !strings.Contains(logs, "frames=15") {
		t.Errorf("no log line for the saved clip %s:\n%s", c.id, logs)
	}
	m := stats.Capture
	if !m.Replay || m.ReplayClips != 1 || m.ReplaySavesFailed != 0 || m.ReplayFrames != 15 || m.ReplayBuffered != 1400*time.Millisecond || m.FramesEncoded != 0 {
		t.Errorf("metrics at the end: %+v; want 1 clip, a 15-frame (1.4 s) window, nothing recorded", m)
	}
	if len(stats.Sessions) != 0 {
		t.Errorf("recording sessions %v in replay mode", stats.Sessions)
	}
}

// segFiles lists the files under dir whose contents are segments.
func segFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), "replaytest/") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// capture.mode = "both", source = "window": the recording runs from the
// start and F9 stops it, independently of the buffer; F10 twice in a row
// (ticks 40 and 41, the second while the first is being written) makes two
// clips, and a save after recording stopped a third, each exactly its
// window. The notices show in the window and in no recording or clip.
func TestReplayTwoSavesAndRecordingTogether(t *testing.T) {
	const w, h = 200, 120
	var noticeFrame int
	g, root, _, stats := replayRun(t, w, h, 60, "mode = \"both\"\nsource = \"window\"\nreplay_seconds = 1.5\nkey_interval = 5\nsegment_frames = 6", true, func(l *loop, tick int) {
		switch tick {
		case 40, 41:
			l.hotkey(l.hk.replay)
			noticeFrame = tick - 1 // drawn next, 0-based
		case 45:
			l.hotkey(l.hk.record)
		case 55:
			if err := SaveReplay(); err != nil {
				t.Errorf("SaveReplay after recording stopped: %v", err)
			}
		}
	})
	replays, recordings := clips(readSessions(t, root))
	if len(replays) != 3 || len(recordings) != 1 {
		t.Fatalf("%d clips and %d recordings, want 3 and 1", len(replays), len(recordings))
	}
	wantFrames(t, recordings[0], g, 0, 43) // F9 at tick 45 stops before frame 44
	wantFrames(t, replays[0], g, 24, 38)
	wantFrames(t, replays[1], g, 25, 39)
	wantFrames(t, replays[2], g, 39, 53)
	if stats.Capture.ReplayClips != 3 || len(stats.Sessions) != 1 {
		t.Errorf("metrics: %d clips, sessions %v", stats.Capture.ReplayClips, stats.Sessions)
	}
	// The window shows the notice; the captured frames (identical to what
	// was drawn, checked above) do not.
	lay := noticeLayout("Saving replay…", w, h)
	win := g.window[noticeFrame]
	drawn := &image.RGBA{Pix: g.pix[noticeFrame], Stride: w * 4, Rect: image.Rect(0, 0, w, h)}
	over := 0
	for y := lay.box.Min.Y; y < lay.box.Max.Y; y++ {
		for x := lay.box.Min.X; x < lay.box.Max.X; x++ {
			if win.RGBAAt(x, y) != drawn.RGBAAt(x, y) {
				over++
			}
		}
	}
	if over < lay.box.Dx()*lay.box.Dy()/2 {
		t.Errorf("frame %d: only %d pixels of the notice's box %v drawn over in the window", noticeFrame, over, lay.box)
	}
}

// Under a cap small enough to trim, the buffer never holds more than the
// cap, and a save stores the newest frames that fit — fewer than the
// window — starting on a key frame.
func TestReplayMemoryCapKeepsTheNewest(t *testing.T) {
	capMB := 0.005 // 5 KB: a few key-frame groups of 64x48 frames
	g, root, _, stats := replayRun(t, 64, 48, 80, fmt.Sprintf("mode = \"replay\"\nreplay_seconds = 60\nreplay_memory_mb = %g\nkey_interval = 10", capMB), false, func(l *loop, tick int) {
		if tick == 79 {
			if err := SaveReplay(); err != nil {
				t.Errorf("SaveReplay: %v", err)
			}
		}
	})
	m := stats.Capture
	capBytes := int64(capMB * (1 << 20))
	if m.ReplayCapBytes != capBytes || m.ReplayPeakBytes > capBytes || m.ReplayPeakBytes < capBytes/2 || m.ReplayCapped == 0 {
		t.Fatalf("buffer: peak %d bytes, cap %d, %d frames trimmed for it; want the peak under the cap, and trimming", m.ReplayPeakBytes, m.ReplayCapBytes, m.ReplayCapped)
	}
	replays, _ := clips(readSessions(t, root))
	if len(replays) != 1 {
		t.Fatalf("%d clips, want 1", len(replays))
	}
	n := len(replays[0].hashes)
	if n == 0 || n >= 78 {
		t.Fatalf("clip of %d frames: want fewer than the 78 the window holds", n)
	}
	wantFrames(t, replays[0], g, 78-n, 77)
	if !replays[0].keys[0] {
		t.Fatal("the clip does not start on a key frame")
	}
	t.Logf("cap %d bytes: peak %d, clip of the newest %d frames", capBytes, m.ReplayPeakBytes, n)
}

// A save that cannot be made says why, in its error, the log and the
// window: in record mode the buffer is off; in replay mode, before the
// first frame, nothing is buffered; with no game running there is nothing
// to save. F9 in replay mode says recording is off.
func TestSaveReplayErrors(t *testing.T) {
	if err := SaveReplay(); err == nil || !strings.Contains(err.Error(), "no game is running") {
		t.Errorf("SaveReplay with no game: %v", err)
	}
	var errOff error
	var shown string
	var failedFrame int
	g, root, logs, stats := replayRun(t, 160, 120, 12, "mode = \"record\"", true, func(l *loop, tick int) {
		if tick == 5 {
			errOff = SaveReplay()
			shown, failedFrame = l.hud.notice, tick-1
		}
	})
	if !errors.Is(errOff, capture.ErrReplayOff) || !strings.Contains(errOff.Error(), `capture.mode is "record"`) || !strings.Contains(errOff.Error(), `set capture.mode = "replay" or "both"`) {
		t.Errorf("SaveReplay in record mode: %v; want ErrReplayOff naming capture.mode and the fix", errOff)
	}
	if shown != `Replay not saved: replay is off (capture.mode = "record")` || !g.hud(t, failedFrame, shown) {
		t.Errorf("the window said %q", shown)
	}
	if !strings.Contains(logs, `msg="replay not saved" by=SaveReplay`) {
		t.Errorf("no log line for the refused save:\n%s", logs)
	}
	if replays, recs := clips(readSessions(t, root)); len(replays) != 0 || len(recs) != 1 || stats.Capture.Replay {
		t.Errorf("record mode: %d clips, %d recordings, replay metrics %v", len(replays), len(recs), stats.Capture.Replay)
	}

	var errEmpty error
	var f9 string
	g, _, logs, _ = replayRun(t, 160, 120, 12, "mode = \"replay\"", true, func(l *loop, tick int) {
		switch tick {
		case 1: // before the first frame is drawn
			errEmpty = SaveReplay()
			shown = l.hud.notice
		case 5:
			l.hotkey(l.hk.record)
			f9, failedFrame = l.hud.notice, tick-1
		}
	})
	if !errors.Is(errEmpty, capture.ErrReplayEmpty) || !strings.Contains(errEmpty.Error(), "nothing is buffered yet") {
		t.Errorf("SaveReplay before the first frame: %v", errEmpty)
	}
	if shown != "Replay not saved: nothing buffered yet" || !strings.Contains(logs, `msg="replay not saved"`) {
		t.Errorf("the window said %q; log:\n%s", shown, logs)
	}
	if !strings.HasPrefix(f9, "Recording is off") || !g.hud(t, failedFrame, f9) {
		t.Errorf("F9 in replay mode: the window said %q", f9)
	}
}

// hud reports whether the window of frame i shows msg's notice box (drawn
// over the game's frame, in the failure colour).
func (g *replayGame) hud(t *testing.T, i int, msg string) bool {
	t.Helper()
	lay := noticeLayout(msg, g.w, g.h)
	win := g.window[i]
	orange := countMatching(win, lay.box, func(c color.RGBA) bool { return c == failureText })
	if orange < 20 {
		t.Logf("frame %d: %d pixels of the failure colour in the notice's box %v", i, orange, lay.box)
		return false
	}
	return true
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
)

// The live tests: livegame (tools/skyloop/internal/livegame) records
// through the spool to a sink while `skyloop serve`, in this process, and
// the viewer in headless Chromium follow the session. The page's canvas is
// read every 2 ms for the frame number the game drew into it and for a
// hash of all its pixels.

var (
	liveBinOnce sync.Once
	liveBinDir  string
	liveBinErr  error
)

// liveBinaries builds livegame, breakout, arena and the disk and S3
// plugins, once.
func liveBinaries(t testing.TB) string {
	t.Helper()
	liveBinOnce.Do(func() {
		liveBinDir = filepath.Join(testDir, "livebin")
		out, err := exec.Command("go", "build", "-o", liveBinDir+"/",
			"github.com/skyloop-engine/skyloop/tools/skyloop/internal/livegame",
			"github.com/skyloop-engine/skyloop/games/breakout",
			"github.com/skyloop-engine/skyloop/games/arena",
			"github.com/skyloop-engine/skyloop/plugins/disk",
			"github.com/skyloop-engine/skyloop/plugins/s3").CombinedOutput()
		if err != nil {
			liveBinErr = fmt.Errorf("build livegame and the plugins: %v\n%s", err, out)
			return
		}
		for _, p := range []string{"disk", "s3"} {
			if err := os.Rename(filepath.Join(liveBinDir, p), filepath.Join(liveBinDir, "skyloop-plugin-"+p)); err != nil {
				liveBinErr = err
				return
			}
		}
	})
	if liveBinErr != nil {
		t.Fatal(liveBinErr)
	}
	return liveBinDir
}

// liveRun is one followed session.
type liveRun struct {
	Sink           string  // "disk" or "s3"
	SegmentSeconds float64 // capture.segment_seconds
	Frames         int     // frames the game draws
	FPS            int     // the game's frame rate
}

// shownFrame is a frame the page's canvas showed: the number the game drew
// into it, when it was first seen (Unix ms), the frame number the viewer
// says it drew, and the FNV-1a hash of the canvas's RGBA bytes.
type shownFrame struct {
	Code uint64  `json:"code"`
	At   float64 `json:"at"`
	Seq  string  `json:"seq"`
	Hash uint32  `json:"hash"`
}

type shownLog struct {
	Log    []shownFrame `json:"log"`
	Behind []float64    `json:"behind"`
}

type liveResult struct {
	shown     []shownFrame
	latencies []time.Duration // from drawn to shown, per shown frame
	behind    []float64       // the viewer's "behind live" while following, ms
	drawn     int
}

func (r liveResult) percentile(p float64) time.Duration {
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	if len(l) == 0 {
		return 0
	}
	return l[int(math.Ceil(p*float64(len(l))))-1]
}

const watchCanvasJS = `(() => {
	const g = window.__g2g = { log: [], last: -1, behind: [] };
	setInterval(() => {
		const live = document.getElementById('live');
		if (live.dataset.state === 'live' && live.dataset.behindMs) g.behind.push(Number(live.dataset.behindMs));
		const c = document.getElementById('frame');
		if (!c.width || !c.dataset.shownSeq) return;
		const ctx = c.getContext('2d');
		const d = ctx.getImageData(0, 0, 160, 10).data;
		let code = 0;
		for (let b = 0; b < 16; b++) code = code * 2 + (d[(5 * 160 + b * 10 + 5) * 4] > 128 ? 1 : 0);
		if (code === g.last) return;
		g.last = code;
		const all = ctx.getImageData(0, 0, c.width, c.height).data;
		let h = 0x811c9dc5;
		for (let i = 0; i < all.length; i++) { h ^= all[i]; h = Math.imul(h, 0x01000193) >>> 0; }
		g.log.push({ code, at: Date.now(), seq: c.dataset.shownSeq, hash: h });
	}, 2);
	return true;
})()`

// followLive records run.Frames frames of livegame to the sink while the
// viewer follows the session, and checks what it showed: every frame
// shown is a stored frame, pixel for pixel (by hash), in order, and the
// following ends when the end record lands.
func followLive(t testing.TB, run liveRun) liveResult {
	t.Helper()
	enginetest.RequireDisplay(t)
	requireChromium(t)
	bin := liveBinaries(t)
	dir := t.TempDir()
	sinkDoc := fmt.Sprintf("plugin = \"disk\"\n[sink.settings]\nroot = %q\n", filepath.Join(dir, "sink"))
	if run.Sink == "s3" {
		srv := enginetest.StartS3Server(t)
		sinkDoc = fmt.Sprintf("plugin = \"s3\"\n[sink.settings]\nbucket = %q\nendpoint = %q\nregion = \"us-east-1\"\naccess_key_id = %q\nsecret_access_key = %q\n",
			srv.Bucket, srv.Endpoint, srv.Access, srv.Secret)
	}
	cfg := filepath.Join(dir, "live.toml")
	doc := fmt.Sprintf(`player = "tester"
plugin_dir = %q
spool_dir = %q
exit_wait_seconds = 30
[capture]
segment_seconds = %g
drop = "block"
[[sink]]
name = "live"
%s`, bin, filepath.Join(dir, "spool"), run.SegmentSeconds, sinkDoc)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, cfg)

	timesFile := filepath.Join(dir, "drawn.txt")
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(run.Frames/run.FPS)*time.Second+2*time.Minute)
	defer cancel()
	game := exec.CommandContext(ctx, filepath.Join(bin, "livegame"), "-fps", fmt.Sprint(run.FPS), "-vsync=false",
		"-frames", fmt.Sprint(run.Frames), "-size", "320x240", "-config", cfg)
	game.Env = append(os.Environ(), "LIVEGAME_TIMES="+timesFile)
	var gameOut lockedBuffer
	game.Stdout, game.Stderr = &gameOut, &gameOut
	if err := game.Start(); err != nil {
		t.Fatal(err)
	}
	gameDone := make(chan error, 1)
	go func() { gameDone <- game.Wait() }()
	defer func() {
		cancel()
		<-gameDone
	}()

	// The session appears as live in the listing.
	var row sessionJSONRow
	for deadline := time.Now().Add(60 * time.Second); ; {
		rows := getRows(t, base)
		if len(rows) == 1 && rows[0].Live {
			row = rows[0]
			break
		}
		if len(rows) > 1 || time.Now().After(deadline) {
			t.Fatalf("no live session listed within 60 s: %+v\n%s", rows, gameOut.String())
		}
		select {
		case err := <-gameDone:
			gameDone <- err
			t.Fatalf("the game exited before its session was listed live: %v\n%s", err, gameOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if row.Ended {
		t.Fatalf("a live session listed as ended: %+v", row)
	}
	// The tool lists it as LIVE too.
	if out := sessionsTable(t, cfg); !strings.Contains(out, row.ID) || !strings.Contains(out, "LIVE") {
		t.Fatalf("skyloop sessions while recording:\n%s", out)
	}

	bctx := browser(t)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"#"+strings.TrimPrefix(row.URL, "/api/sessions")),
		chromedp.WaitVisible(chromedp.CSS("#player")),
		chromedp.Evaluate[chromedp.Void](watchCanvasJS),
	); err != nil {
		t.Fatalf("open the live session in the viewer: %v", err)
	}
	var state string
	for deadline := time.Now().Add(time.Duration(run.Frames/run.FPS)*time.Second + 60*time.Second); ; {
		var err error
		if state, err = chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('live').dataset.state`)); err != nil {
			t.Fatal(err)
		}
		if state == "ended" {
			break
		}
		if state != "live" || time.Now().After(deadline) {
			text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('live').textContent + ' | ' + document.getElementById('error').textContent`))
			t.Fatalf("following: state %q (%s), want live until the end record lands, then ended\n%s", state, text, gameOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := chromedp.Run(bctx, chromedp.Evaluate[shownLog](`({log: window.__g2g.log, behind: window.__g2g.behind})`))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-gameDone; err != nil {
		gameDone <- err
		t.Fatalf("livegame: %v\n%s", err, gameOut.String())
	}
	gameDone <- nil
	drawn := readDrawn(t, timesFile)
	if len(drawn) != run.Frames {
		t.Fatalf("the game drew %d frames, want %d", len(drawn), run.Frames)
	}

	// The listing says the session ended, and is not live.
	rows := getRows(t, base)
	if len(rows) != 1 || !rows[0].Ended || rows[0].Live || rows[0].Frames != run.Frames {
		t.Fatalf("after the end record: %+v, want one ended session of %d frames, not live", rows, run.Frames)
	}

	if out := sessionsTable(t, cfg); !strings.Contains(out, row.ID) || strings.Contains(out, "LIVE") || !strings.Contains(out, " ended ") {
		t.Fatalf("skyloop sessions after the end record:\n%s", out)
	}

	// Every frame shown is the stored frame the viewer says it is, pixel
	// for pixel, and carries that frame's number; numbers only go up.
	stored := storedHashes(t, cfg)
	if os.Getenv("LIVE_DEBUG") != "" {
		for _, f := range res.Log {
			t.Logf("code %d seq %s at %+.0f ms", f.Code, f.Seq, float64(time.UnixMilli(int64(f.At)).Sub(drawn[min(f.Code, uint64(len(drawn)-1))]).Milliseconds()))
		}
	}
	// The viewer skips frames only when it falls behind (a loaded machine:
	// make test runs packages side by side); it must keep showing frames.
	if len(res.Log) == 0 {
		t.Fatal("the canvas showed no frame")
	}
	if span := run.Frames - int(res.Log[0].Code); len(res.Log) < min(10, span) {
		t.Fatalf("the canvas showed %d different frames of the %d drawn since the first it showed", len(res.Log), span)
	}
	out := liveResult{shown: res.Log, behind: res.Behind, drawn: len(drawn)}
	for i, f := range res.Log {
		var seq uint64
		if _, err := fmt.Sscan(f.Seq, &seq); err != nil {
			t.Fatalf("shown frame %d: seq %q", i, f.Seq)
		}
		want, ok := stored[seq]
		if !ok || want.hash != f.Hash || want.code != f.Code {
			t.Fatalf("shown frame %d: canvas shows code %d hash %08x as frame %d; stored frame %d: code %d hash %08x (stored %v)", i, f.Code, f.Hash, seq, seq, want.code, want.hash, ok)
		}
		if i > 0 && f.Code <= res.Log[i-1].Code {
			t.Fatalf("shown frame %d: frame %d after frame %d: following live went backwards", i, f.Code, res.Log[i-1].Code)
		}
		if f.Code >= uint64(len(drawn)) {
			t.Fatalf("shown code %d: the game drew %d frames", f.Code, len(drawn))
		}
		out.latencies = append(out.latencies, time.UnixMilli(int64(f.At)).Sub(drawn[f.Code]))
	}
	if last := res.Log[len(res.Log)-1]; last.Code != uint64(run.Frames-1) {
		t.Fatalf("the last frame shown is %d, want the last one drawn, %d", last.Code, run.Frames-1)
	}
	return out
}

// sessionsTable runs `skyloop sessions` in-process.
func sessionsTable(t testing.TB, cfg string) string {
	t.Helper()
	var out, errOut lockedBuffer
	if code := run(context.Background(), []string{"--config", cfg, "sessions"}, &out, &errOut); code != 0 {
		t.Fatalf("skyloop sessions: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	return out.String()
}

type storedFrame struct {
	code uint64
	hash uint32
}

// storedHashes decodes every stored frame of the one session in cfg's sink.
func storedHashes(t testing.TB, cfg string) map[uint64]storedFrame {
	t.Helper()
	a := &app{stdout: io.Discard, stderr: os.Stderr, configPath: cfg, logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	sinks, err := a.openSinks(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeSinks(sinks)
	ss, err := recordings.List(ctx, sinks[0], "live", "")
	if err != nil || len(ss) != 1 {
		t.Fatalf("%d sessions, %v", len(ss), err)
	}
	sum, err := ss[0].Summarize(ctx, sinks[0])
	if err != nil {
		t.Fatal(err)
	}
	fr := recordings.NewFrameReader(sinks[0], ss[0], sum)
	defer fr.Close()
	out := map[uint64]storedFrame{}
	err = fr.Each(ctx, 0, sum.LastSeq, func(f segment.Frame) error {
		h := fnv.New32a()
		h.Write(f.Image.Pix)
		var code uint64
		for b := range 16 {
			px := f.Image.Pix[(5*f.Image.Stride)+(b*10+5)*4]
			code = code*2 + uint64(boolInt(px > 128))
		}
		out[f.Seq] = storedFrame{code: code, hash: h.Sum32()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func readDrawn(t testing.TB, path string) []time.Time {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var n, ns int64
		if _, err := fmt.Sscan(sc.Text(), &n, &ns); err != nil || n != int64(len(out)) {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		out = append(out, time.Unix(0, ns))
	}
	return out
}

type sessionJSONRow struct {
	recordings.Row
	URL string `json:"url"`
}

func getRows(t testing.TB, base string) []sessionJSONRow {
	t.Helper()
	resp, err := http.Get(base + "api/sessions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rows []sessionJSONRow
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// A game recording to versitygw (and to the disk plugin) is followed live
// by the viewer: the frames shown are the frames drawn, in order, the
// LIVE state ends when the end record lands, and the lag stays within
// the bound the viewer aims at: two segment intervals and the poll, with
// room for a loaded 2-core machine.
func TestFollowLive(t *testing.T) {
	for _, sink := range []string{"s3", "disk"} {
		t.Run(sink, func(t *testing.T) {
			run := liveRun{Sink: sink, SegmentSeconds: 0.5, Frames: 180, FPS: 30}
			r := followLive(t, run)
			bound := time.Duration((4*run.SegmentSeconds + 3) * float64(time.Second))
			t.Logf("%s: %d of %d frames shown; drawn to shown p50 %v, p99 %v", sink, len(r.shown), r.drawn, r.percentile(0.5), r.percentile(0.99))
			if p := r.percentile(0.5); p > bound {
				t.Errorf("drawn to shown p50 %v, beyond %v", p, bound)
			}
			for _, b := range r.behind {
				if b > float64(bound.Milliseconds()) {
					t.Errorf("the viewer said it was %.0f ms behind live, beyond %v", b, bound)
					break
				}
			}
		})
	}
}

// BenchmarkGlassToGlass measures the time from a frame drawn by the game
// to the same frame on the viewer's canvas, following live, per sink and
// segment interval. Each run records one session; b.N is ignored (run
// with -benchtime 1x).
func BenchmarkGlassToGlass(b *testing.B) {
	for _, sink := range []string{"disk", "s3"} {
		for _, seg := range []float64{2, 0.5} {
			b.Run(fmt.Sprintf("%s/segment=%gs", sink, seg), func(b *testing.B) {
				r := followLive(b, liveRun{Sink: sink, SegmentSeconds: seg, Frames: 450, FPS: 30})
				b.ReportMetric(float64(r.percentile(0.5).Milliseconds()), "p50-ms")
				b.ReportMetric(float64(r.percentile(0.99).Milliseconds()), "p99-ms")
				// Of the frames drawn since the viewer showed its first.
				b.ReportMetric(float64(len(r.shown))/float64(r.drawn-int(r.shown[0].Code)), "shown/drawn")
			})
		}
	}
}

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/bench"
)

func TestBenchEncode(t *testing.T) {
	out, errOut, code := runTool(t, "bench", "encode", "--json", "--size", "320x240,64x48", "--frames", "30", "--codec", "zstd,s2")
	if code != 0 {
		t.Fatalf("bench encode: exit %d\n%s", code, errOut)
	}
	var rows []bench.EncodeResult
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rows) != 4 {
		t.Fatalf("want 4 rows (2 sizes × 2 codecs), got %d", len(rows))
	}
	for _, r := range rows {
		if r.Frames != 30 || r.Encode.Median <= 0 || r.Decode.Median <= 0 || r.BytesPerFrame <= 0 || r.BytesPerFrame >= float64(r.RawBytesPerFrm) || r.KeyFrames < 1 {
			t.Errorf("implausible row %+v", r)
		}
	}
	out, _, code = runTool(t, "bench", "encode", "--size", "64x48", "--frames", "10", "--codec", "zstd")
	if code != 0 || !strings.Contains(out, "machine:") || !strings.Contains(out, "64x48") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	if _, errOut, code := runTool(t, "bench", "encode", "--size", "big"); code != 2 || !strings.Contains(errOut, "--size") {
		t.Errorf("bad --size: exit %d %q", code, errOut)
	}
	if _, errOut, code := runTool(t, "bench", "encode", "--codec", "lz4"); code != 2 || !strings.Contains(errOut, "--codec") {
		t.Errorf("bad --codec: exit %d %q", code, errOut)
	}
}

func TestBenchEncodeSession(t *testing.T) {
	rec := recordedSession(t)
	out, errOut, code := runTool(t, "--config", rec.Config, "bench", "encode", "--json", "--session", rec.Ref, "--codec", "zstd", "--frames", "60")
	if code != 0 {
		t.Fatalf("bench encode --session: exit %d\n%s", code, errOut)
	}
	var rows []bench.EncodeResult
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("%v %d rows\n%s", err, len(rows), out)
	}
	if r := rows[0]; r.Frames != 60 || r.Width != rec.Width || r.Height != rec.Height {
		t.Fatalf("row %+v: want 60 frames of %dx%d", r, rec.Width, rec.Height)
	}
}

// The transport benchmark launches this test binary's sibling, the real
// skyloop binary, as its discarding plugin: build it first.
func TestBenchTransport(t *testing.T) {
	bin := buildTool(t)
	out := runBinary(t, bin, "bench", "transport", "--json", "--size", "64KiB,1MiB", "--duration", "200ms")
	var rows []bench.TransportResult
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rows) != 4 {
		t.Fatalf("want 4 rows (2 sizes × shm and stream), got %+v", rows)
	}
	for _, r := range rows {
		if r.Puts < 5 || r.MBps <= 0 || (r.Mode == "shm") != r.SharedUsed {
			t.Errorf("implausible row %+v", r)
		}
	}
	// A real plugin, storage included.
	rec := recordedSession(t)
	out = runBinary(t, bin, "bench", "transport", "--json", "--size", "1MiB", "--duration", "200ms",
		"--plugin", filepath.Join(rec.PluginDir, "skyloop-plugin-disk"), "--set", "root="+t.TempDir())
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 || rows[0].Plugin != "skyloop-plugin-disk" {
		t.Fatalf("disk plugin: %v %+v\n%s", err, rows, out)
	}
}

func TestBenchCapture(t *testing.T) {
	rec := recordedSession(t)
	out, errOut, code := runTool(t, "bench", "capture", "--json", "--game", filepath.Join(rec.PluginDir, "breakout"), "--size", "320x240", "--frames", "30", "--readback", "sync")
	if code != 0 {
		t.Fatalf("bench capture: exit %d\n%s", code, errOut)
	}
	var rows []bench.CaptureResult
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("%v %+v\n%s", err, rows, out)
	}
	off, on := rows[0], rows[1]
	if off.Capture != "off" || off.Stats.Frames != 30 || off.Stats.FPS <= 0 || off.Stats.FramesCaptured != 0 {
		t.Errorf("capture-off row %+v", off)
	}
	if on.Stats.Frames != 30 || on.Stats.Readback != "sync" || on.Stats.FramesCaptured == 0 || on.Stats.StoredBytes == 0 || on.OnOff <= 0 {
		t.Errorf("capture-on row %+v", on)
	}
	if _, errOut, code := runTool(t, "bench", "capture"); code != 2 || !strings.Contains(errOut, "--game") {
		t.Errorf("no --game: exit %d %q", code, errOut)
	}
}

// --scene takes a sample game by name or path, with a size of its own;
// --runs interleaves runs and reports medians, the CPU per frame and the
// effort line of the game's engine.
func TestBenchCaptureScene(t *testing.T) {
	rec := recordedSession(t)
	game := filepath.Join(rec.PluginDir, "breakout")
	out, errOut, code := runTool(t, "bench", "capture", "--json", "--scene", game+":320x240", "--runs", "2", "--frames", "20", "--readback", "sync")
	if code != 0 {
		t.Fatalf("bench capture --scene: exit %d\n%s", code, errOut)
	}
	var rows []bench.CaptureResult
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("%v %+v\n%s", err, rows, out)
	}
	off, on := rows[0], rows[1]
	if off.Size != "320x240" || off.Runs != 2 || len(off.FPS) != 2 || len(on.FPS) != 2 || off.CPUMSPerFrame <= 0 || on.CPUMSPerFrame <= 0 {
		t.Errorf("rows %+v / %+v", off, on)
	}
	if strings.Count(errOut, "run 2/2") != 2 {
		t.Errorf("want two cases logged for run 2:\n%s", errOut)
	}
	if !strings.HasPrefix(on.Effort, "effort ") || on.Stats.FramesEncoded == 0 {
		t.Errorf("capture-on row has no effort line or frames: %+v", on)
	}
	// The effort comes from the game's -bench-json: frames per level add
	// up to the frames encoded, and the last level is one of them.
	if ef := on.Stats.EffortFrames; ef == nil {
		t.Errorf("the game's -bench-json has no effort_frames: %+v", on.Stats)
	} else if sum := ef[0] + ef[1] + ef[2] + ef[3]; sum != on.Stats.FramesEncoded || on.Stats.Effort < 1 || on.Stats.Effort > 4 || ef[on.Stats.Effort-1] == 0 {
		t.Errorf("effort %d, frames per level %v (sum %d), frames encoded %d", on.Stats.Effort, *ef, sum, on.Stats.FramesEncoded)
	}
	if off.Stats.EffortFrames != nil {
		t.Errorf("capture-off row reports effort frames %v", *off.Stats.EffortFrames)
	}
	if _, errOut, code := runTool(t, "bench", "capture", "--scene", "tetris"); code != 2 || !strings.Contains(errOut, "rects") {
		t.Errorf("unknown scene: exit %d %q", code, errOut)
	}
	if _, errOut, code := runTool(t, "bench", "capture", "--scene", "rects:big"); code != 2 || !strings.Contains(errOut, "--scene") {
		t.Errorf("bad scene size: exit %d %q", code, errOut)
	}
}

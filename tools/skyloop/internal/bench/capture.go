package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// GameStats is what a game built on the engine writes with -bench-json
// (engine.StatsJSON; the tool reads JSON rather than import the cgo engine).
type GameStats struct {
	Frames           int     `json:"frames"`
	FPS              float64 `json:"fps"`
	FrameMedianMS    float64 `json:"frame_median_ms"`
	FrameP99MS       float64 `json:"frame_p99_ms"`
	Readback         string  `json:"readback"`
	CaptureMedianMS  float64 `json:"capture_render_thread_median_ms"`
	CaptureP99MS     float64 `json:"capture_render_thread_p99_ms"`
	FramesCaptured   uint64  `json:"frames_captured"`
	FramesEncoded    uint64  `json:"frames_encoded"`
	FramesDropped    uint64  `json:"frames_dropped"`
	EncodeMSPerFrame float64 `json:"encode_ms_per_frame"`
	RawBytes         uint64  `json:"raw_bytes"`
	StoredBytes      uint64  `json:"stored_bytes"`
	Segments         uint64  `json:"segments"`
	SinkErrors       uint64  `json:"sink_errors"`
	// Effort and EffortFrames (efforts 1..4): engines from before
	// adaptive effort leave them out.
	Effort       int        `json:"effort"`
	EffortFrames *[4]uint64 `json:"effort_frames"`
}

// EffortString is the effort in the engine's metrics form, "effort 2
// (1:40 2:560 3:0 4:0)", or "" when the engine did not report one.
func (s GameStats) EffortString() string {
	if s.EffortFrames == nil {
		return ""
	}
	f := s.EffortFrames
	return fmt.Sprintf("effort %d (1:%d 2:%d 3:%d 4:%d)", s.Effort, f[0], f[1], f[2], f[3])
}

// CaptureResult is one row of `skyloop bench capture`: one game at one size,
// capture off or on; with several runs, the run with the median fps.
type CaptureResult struct {
	Game    string
	Size    string
	Capture string // "off", or codec/readback/source
	Stats   GameStats
	OnOff   float64   // median fps with capture ÷ median fps without; 0 on "off" rows
	Runs    int       // runs the medians are of
	FPS     []float64 // every run's fps, in run order
	// CPUMSPerFrame is the game process's CPU time (user + system, every
	// thread) per frame of the median run; CaptureCPUMSPerFrame, on "on"
	// rows, is that less the "off" row's: what capture costs the machine
	// per frame, encoders included.
	CPUMSPerFrame        float64
	CaptureCPUMSPerFrame float64 `json:",omitempty"`
	// Effort is the segment effort line the game printed (-bench): the
	// level at the end and the frames written at each, e.g. "effort 2
	// (1:40 2:560 3:0 4:0)"; "" when the game's engine has no adaptive
	// effort.
	Effort  string `json:",omitempty"`
	Dropped uint64 // the most frames dropped in any run
}

// CaptureCase is one game binary at one window size.
type CaptureCase struct {
	Game string // path of a game binary built on the engine
	Size string // WxH
}

// CaptureOptions describe the runs.
type CaptureOptions struct {
	Game      string        // path of a game binary built on the engine (with Sizes)
	Sizes     []string      // WxH
	Cases     []CaptureCase // more game/size pairs, after Game × Sizes
	Frames    int
	Runs      int    // runs of each case, off and on interleaved; default 1
	Codec     string // zstd | s2
	Readback  string // auto | pbo | sync
	Source    string // screen | window
	PluginDir string // where skyloop-plugin-disk is
	WorkDir   string // temporary: configs, the disk sink, the spool
	Log       func(format string, args ...any)
}

var effortLine = regexp.MustCompile(`effort \d \(1:\d+ 2:\d+ 3:\d+ 4:\d+\)`)

// Capture runs each case twice per run, capture off then capture on
// (recording to the disk plugin under WorkDir), -autoplay -lockstep
// -vsync=false, and reads the statistics it writes with -bench-json. With
// Runs > 1 the runs are interleaved — every case off and on, then every
// case again — so that a change in the machine's load falls on all of them,
// and each row is the run with the median fps.
func Capture(ctx context.Context, o CaptureOptions) ([]CaptureResult, error) {
	cfg := filepath.Join(o.WorkDir, "bench.toml")
	body := fmt.Sprintf(`plugin_dir = %q
spool_dir = %q
[capture]
codec = %q
readback = %q
source = %q
[[sink]]
name = "bench"
plugin = "disk"
[sink.settings]
root = %q
`, o.PluginDir, filepath.Join(o.WorkDir, "spool"), o.Codec, o.Readback, o.Source, filepath.Join(o.WorkDir, "sink"))
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return nil, err
	}
	var cases []CaptureCase
	for _, size := range o.Sizes {
		if o.Game != "" {
			cases = append(cases, CaptureCase{Game: o.Game, Size: size})
		}
	}
	cases = append(cases, o.Cases...)
	runs := max(1, o.Runs)
	type sample struct {
		st     GameStats
		cpu    float64
		effort string
	}
	got := make([][2][]sample, len(cases)) // [case][off, on][run]
	for run := range runs {
		for ci, c := range cases {
			game := strings.TrimSuffix(filepath.Base(c.Game), ".exe")
			for k, on := range []bool{false, true} {
				args := []string{"-autoplay", "-lockstep", "-seed", "1", "-vsync=false", "-frames", fmt.Sprint(o.Frames), "-size", c.Size, "-config", cfg, "-bench"}
				label := "off"
				if !on {
					args = append(args, "-capture=false")
				} else {
					label = o.Codec + ", " + o.Readback + ", " + o.Source
				}
				if o.Log != nil {
					o.Log("run %d/%d: %s %s capture %s …", run+1, runs, game, c.Size, label)
				}
				// Every run starts alike: no stored segments or saves (the
				// games keep theirs in the sink), and the previous run's
				// writes flushed, so that their write-back does not land
				// on this run (an "off" run after a recording one could be
				// 15 % slower).
				os.RemoveAll(filepath.Join(o.WorkDir, "sink"))
				os.RemoveAll(filepath.Join(o.WorkDir, "spool"))
				flushWrites()
				st, cpu, stderr, err := runGame(ctx, c.Game, args, filepath.Join(o.WorkDir, "stats.json"))
				if err != nil {
					return nil, err
				}
				effort := st.EffortString()
				if effort == "" {
					effort = effortLine.FindString(stderr) // an engine from before -bench-json had it
				}
				got[ci][k] = append(got[ci][k], sample{st, cpu, effort})
			}
		}
	}
	var out []CaptureResult
	for ci, c := range cases {
		game := strings.TrimSuffix(filepath.Base(c.Game), ".exe")
		var med [2]sample
		var fps [2][]float64
		var dropped [2]uint64
		for k := range 2 {
			ss := got[ci][k]
			for _, s := range ss {
				fps[k] = append(fps[k], s.st.FPS)
				dropped[k] = max(dropped[k], s.st.FramesDropped)
			}
			sorted := slices.Clone(ss)
			slices.SortFunc(sorted, func(a, b sample) int { return cmp.Compare(a.st.FPS, b.st.FPS) })
			med[k] = sorted[len(sorted)/2]
		}
		off := CaptureResult{Game: game, Size: c.Size, Capture: "off", Stats: med[0].st, Runs: runs, FPS: fps[0], CPUMSPerFrame: med[0].cpu}
		on := CaptureResult{Game: game, Size: c.Size, Capture: fmt.Sprintf("%s, %s, %s", o.Codec, med[1].st.Readback, o.Source), Stats: med[1].st,
			Runs: runs, FPS: fps[1], CPUMSPerFrame: med[1].cpu, CaptureCPUMSPerFrame: med[1].cpu - med[0].cpu, Effort: med[1].effort, Dropped: dropped[1]}
		if med[0].st.FPS > 0 {
			on.OnOff = med[1].st.FPS / med[0].st.FPS
		}
		out = append(out, off, on)
	}
	return out, nil
}

// runGame runs a game and returns its -bench-json statistics, its CPU
// time per frame in milliseconds and its stderr.
func runGame(ctx context.Context, game string, args []string, statsPath string) (GameStats, float64, string, error) {
	os.Remove(statsPath)
	cmd := exec.CommandContext(ctx, game, append(args, "-bench-json", statsPath)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 2000 {
			tail = "…" + tail[len(tail)-2000:]
		}
		return GameStats{}, 0, "", fmt.Errorf("%s %s: %v\n%s", game, strings.Join(args, " "), err, tail)
	}
	b, err := os.ReadFile(statsPath)
	if err != nil {
		return GameStats{}, 0, "", fmt.Errorf("%s wrote no -bench-json statistics (is it a skyloop game built with this engine version?): %w", game, err)
	}
	var st GameStats
	if err := json.Unmarshal(b, &st); err != nil {
		return GameStats{}, 0, "", fmt.Errorf("%s: -bench-json: %w", statsPath, err)
	}
	cpu := 0.0
	if ps := cmd.ProcessState; ps != nil && st.Frames > 0 {
		cpu = MS(ps.UserTime()+ps.SystemTime()) / float64(st.Frames)
	}
	return st, cpu, stderr.String(), nil
}

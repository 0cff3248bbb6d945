package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
}

// CaptureResult is one row of `skyloop bench capture`: one game at one size,
// capture off or on.
type CaptureResult struct {
	Game    string
	Size    string
	Capture string // "off", or codec/readback/source
	Stats   GameStats
	OnOff   float64 // fps with capture ÷ fps without; 0 on "off" rows
}

// CaptureOptions describe the runs.
type CaptureOptions struct {
	Game      string   // path of a game binary built on the engine
	Sizes     []string // WxH
	Frames    int
	Codec     string // zstd | s2
	Readback  string // auto | pbo | sync
	Source    string // screen | window
	PluginDir string // where skyloop-plugin-disk is
	WorkDir   string // temporary: configs, the disk sink, the spool
	Log       func(format string, args ...any)
}

// Capture runs the game for each size twice, capture off and capture on
// (recording to the disk plugin under WorkDir), -autoplay -lockstep
// -vsync=false, and reads the statistics it writes with -bench-json.
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
	game := strings.TrimSuffix(filepath.Base(o.Game), ".exe")
	var out []CaptureResult
	for _, size := range o.Sizes {
		var offFPS float64
		for _, on := range []bool{false, true} {
			args := []string{"-autoplay", "-lockstep", "-seed", "1", "-vsync=false", "-frames", fmt.Sprint(o.Frames), "-size", size, "-config", cfg}
			label := "off"
			if !on {
				args = append(args, "-capture=false")
			} else {
				label = o.Codec + ", " + o.Readback + ", " + o.Source
			}
			if o.Log != nil {
				o.Log("%s %s capture %s …", game, size, label)
			}
			st, err := runGame(ctx, o.Game, args, filepath.Join(o.WorkDir, "stats.json"))
			if err != nil {
				return out, err
			}
			r := CaptureResult{Game: game, Size: size, Capture: label, Stats: st}
			if !on {
				offFPS = st.FPS
			} else if offFPS > 0 {
				r.OnOff = st.FPS / offFPS
				r.Capture = fmt.Sprintf("%s, %s, %s", o.Codec, st.Readback, o.Source)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func runGame(ctx context.Context, game string, args []string, statsPath string) (GameStats, error) {
	os.Remove(statsPath)
	cmd := exec.CommandContext(ctx, game, append(args, "-bench-json", statsPath)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 2000 {
			tail = "…" + tail[len(tail)-2000:]
		}
		return GameStats{}, fmt.Errorf("%s %s: %v\n%s", game, strings.Join(args, " "), err, tail)
	}
	b, err := os.ReadFile(statsPath)
	if err != nil {
		return GameStats{}, fmt.Errorf("%s wrote no -bench-json statistics (is it a skyloop game built with this engine version?): %w", game, err)
	}
	var st GameStats
	if err := json.Unmarshal(b, &st); err != nil {
		return GameStats{}, fmt.Errorf("%s: -bench-json: %w", statsPath, err)
	}
	return st, nil
}

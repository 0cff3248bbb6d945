package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
)

// capture.effort fixes the segment coder's effort: every frame of the
// recording is encoded at it, as the game's -bench-json reports; left out,
// the effort adapts and the frames per level still add up.
func TestCaptureEffortConfig(t *testing.T) {
	enginetest.RequireDisplay(t)
	bin := buildGame(t, "breakout")
	plugins := enginetest.BuildPlugin(t, "disk")
	const frames = 40
	for _, effort := range []int{0, 3} {
		t.Run(fmt.Sprint("effort=", effort), func(t *testing.T) {
			dir := t.TempDir()
			cfg := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\n[capture]\ndrop = \"block\"\neffort = %d\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
				plugins, filepath.Join(dir, "spool"), effort, filepath.Join(dir, "sink"))
			cfgPath := filepath.Join(dir, "config.toml")
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			statsPath := filepath.Join(dir, "stats.json")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-autoplay", "-lockstep", "-seed", "1", "-frames", fmt.Sprint(frames),
				"-size", "320x240", "-vsync=false", "-config", cfgPath, "-bench-json", statsPath)
			cmd.Env = gameEnv(dir, false)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("breakout: %v\n%s", err, out)
			}
			b, err := os.ReadFile(statsPath)
			if err != nil {
				t.Fatal(err)
			}
			var st StatsJSON
			if err := json.Unmarshal(b, &st); err != nil || st.EffortFrames == nil {
				t.Fatalf("-bench-json: %v, effort_frames missing:\n%s", err, b)
			}
			ef := *st.EffortFrames
			if sum := ef[0] + ef[1] + ef[2] + ef[3]; sum != st.FramesEncoded || st.FramesEncoded != frames {
				t.Fatalf("frames per effort %v add up to %d; frames encoded %d, want %d", ef, sum, st.FramesEncoded, frames)
			}
			if effort > 0 && (ef[effort-1] != frames || st.Effort != effort) {
				t.Errorf("capture.effort = %d: frames per effort %v, last effort %d", effort, ef, st.Effort)
			}
		})
	}
}

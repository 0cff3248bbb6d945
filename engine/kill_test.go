package engine

import (
	"bufio"
	"fmt"
	"image/color"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// killGame prints, after every Draw, the time it drew at: the test keeps
// the last line it read before the kill.
type killGame struct{ frame int }

func (g *killGame) Update(*input.State) error  { return nil }
func (g *killGame) Layout(int, int) (int, int) { return 64, 48 }
func (g *killGame) Draw(c *gfx.Canvas) {
	g.frame++
	c.Clear(color.RGBA{uint8(g.frame), uint8(g.frame >> 8), 80, 255})
	fmt.Printf("DREW %d\n", time.Now().UnixNano())
}

// runKillHelper is the helper process of TestKilledGameLosesLittle: it
// records until killed, or, with SKYLOOP_KILL_FRAMES, for that many frames.
func runKillHelper() {
	frames, _ := strconv.Atoi(os.Getenv("SKYLOOP_KILL_FRAMES"))
	err := Run(&killGame{}, Options{Name: "killed", Width: 64, Height: 48, MaxFrames: frames, VSyncOff: true,
		ConfigPath: os.Getenv("SKYLOOP_KILL_CONFIG")})
	fmt.Printf("RUN RESULT: %v\n", err)
}

// A game killed with SIGKILL at random points loses at most 0.5 s of what
// it captured: the open segment is journaled in the spool as it grows, and
// the next start delivers it cut short, decodable to its last complete
// frame. Lost time is the last draw the game reported before it died minus
// the capture time of the last frame the sink holds.
func TestKilledGameLosesLittle(t *testing.T) {
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "disk")
	root := filepath.Join(dir, "sink")
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = 20\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\nfsync = false\n",
		pluginDir, filepath.Join(dir, "spool"), root)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	const trials = 10
	var lost []time.Duration
	for trial := range trials {
		runFor := 700*time.Millisecond + time.Duration(rng.Int64N(int64(2500*time.Millisecond)))
		lastDraw := recordThenKill(t, cfg, runFor)
		// The next start delivers what the killed one left in the spool.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "SKYLOOP_ENGINE_HELPER=kill", "SKYLOOP_KILL_CONFIG="+cfg, "SKYLOOP_KILL_FRAMES=2")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "RUN RESULT: <nil>") {
			t.Fatalf("trial %d: the start after the kill: %v\n%s", trial, err, out)
		}
		last, ok := lastStoredFrame(t, root, trial)
		if !ok {
			t.Fatalf("trial %d: no frame of the killed session reached the sink (ran %v)", trial, runFor)
		}
		lost = append(lost, lastDraw.Sub(last))
	}
	slices.Sort(lost)
	t.Logf("%d kills: time lost median %v, max %v", trials, lost[trials/2].Round(time.Millisecond), lost[trials-1].Round(time.Millisecond))
	if max := lost[trials-1]; max > 500*time.Millisecond {
		t.Fatalf("a killed game lost %v of capture (all: %v), want at most 0.5 s", max.Round(time.Millisecond), lost)
	}
}

// recordThenKill starts the helper, lets it draw for d, SIGKILLs it and
// returns the time of the last draw it reported.
func recordThenKill(t *testing.T, cfg string, d time.Duration) time.Time {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SKYLOOP_ENGINE_HELPER=kill", "SKYLOOP_KILL_CONFIG="+cfg)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var last, first time.Time
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if ns, ok := strings.CutPrefix(sc.Text(), "DREW "); ok {
				n, _ := strconv.ParseInt(ns, 10, 64)
				mu.Lock()
				last = time.Unix(0, n)
				if first.IsZero() {
					first = last
				}
				mu.Unlock()
			}
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		started := !first.IsZero() && time.Since(first) >= d
		mu.Unlock()
		if started || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	<-read
	mu.Lock()
	defer mu.Unlock()
	if first.IsZero() {
		t.Fatal("the game drew nothing in 30 s")
	}
	return last
}

// lastStoredFrame is the capture time of the newest frame the sink holds
// of the newest killed session (the one whose segments have no end record).
func lastStoredFrame(t *testing.T, root string, trial int) (time.Time, bool) {
	t.Helper()
	sessions, _ := filepath.Glob(filepath.Join(root, "killed", "tester", "sessions", "*"))
	var killed []string
	for _, s := range sessions {
		if _, err := os.Stat(filepath.Join(s, segment.ManifestName)); os.IsNotExist(err) {
			killed = append(killed, s)
		}
	}
	if len(killed) != trial+1 {
		t.Fatalf("trial %d: %d sessions without an end record, want %d (one per kill)", trial, len(killed), trial+1)
	}
	slices.Sort(killed) // session ids start with their start time
	segs, _ := filepath.Glob(filepath.Join(killed[len(killed)-1], "*.seg"))
	var last time.Time
	for _, p := range segs {
		r, err := segment.Open(p)
		if err != nil {
			continue
		}
		for {
			f, err := r.Next()
			if err != nil {
				break
			}
			if f.Time.After(last) {
				last = f.Time
			}
		}
		r.Close()
	}
	return last, !last.IsZero()
}

package saves_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/saves"
	"github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
)

// The killed game is this test binary run again with these variables set
// (as engine/sync's tests do with SKYLOOP_SYNC_HELPER).
const (
	killHelperEnv = "SKYLOOP_SAVES_KILL_HELPER" // after-save | in-upload
	killDirEnv    = "SKYLOOP_SAVES_KILL_DIR"
)

// killRaw is the bytes slot the killed game saves.
func killRaw() []byte { return bytes.Repeat([]byte("raw bytes saved just before SIGKILL;"), 3000) }

// TestKillHelperProcess is the game that is killed: it opens a store
// whose Upload never returns (the sink is slow, or the kill comes first),
// saves three versions in two slots, prints their ids and waits for
// SIGKILL. Without killHelperEnv it does nothing.
func TestKillHelperProcess(t *testing.T) {
	mode := os.Getenv(killHelperEnv)
	if mode == "" {
		return
	}
	entered := make(chan struct{}, 1)
	s, err := saves.Open(saves.Options{
		Dir: os.Getenv(killDirEnv), Game: game, Player: player, DeviceName: "killed", Poll: -1, Logger: quiet(),
		Upload: func(context.Context, string, []byte) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			select {} // the hand-over to the spool never completes
		},
	})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	var p gameSave
	p.Coins.Add(7)
	p.HighScore.Offer(4242)
	p.Achieved.Unlock("killed")
	p.Name.Set("before the kill")
	var ids []string
	for _, w := range []struct {
		slot string
		v    any
	}{{"progress", &p}, {"raw", killRaw()}, {"progress", &p}} {
		if w.slot == "progress" && len(ids) > 0 {
			p.Coins.Add(3)
		}
		v, err := s.Save(w.slot, w.v, saves.Meta{Description: "saved before the kill"})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		ids = append(ids, w.slot+"/"+v.ID)
	}
	if mode == "in-upload" {
		select {
		case <-entered: // the first version is fsynced and being handed over
		case <-time.After(30 * time.Second):
			fmt.Println("ERROR Upload was never called")
			os.Exit(1)
		}
	}
	fmt.Println("SAVED", strings.Join(ids, " "))
	time.Sleep(time.Minute) // SIGKILLed long before
	fmt.Println("ERROR not killed")
	os.Exit(1)
}

// runKilledGame runs the helper on dir, SIGKILLs it right after it has
// said what it saved, and returns "slot/id" of each version.
func runKilledGame(t *testing.T, mode, dir string) []string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelperProcess$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+mode, killDirEnv+"="+dir)
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill() // no-op once it is dead
		<-exited
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "SAVED ") || strings.HasPrefix(l, "ERROR") {
				select {
				case lines <- l:
				default:
				}
			}
		}
	}()
	var line string
	select {
	case line = <-lines:
	case err := <-exited:
		exited <- err
		t.Fatalf("the game exited (%v) before saying what it saved", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the game said nothing within 60 s")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the game ended with %v, want killed by SIGKILL", err)
		}
		exited <- err
	case <-time.After(10 * time.Second):
		t.Fatal("the game outlived SIGKILL by 10 s")
	}
	saved, ok := strings.CutPrefix(line, "SAVED ")
	if !ok {
		t.Fatalf("the game said %q", line)
	}
	return strings.Fields(saved)
}

// Killed (SIGKILL) between the local write and the sync: the saves reach
// the backend on the next start. The killed game's Upload never returned —
// either it had not been called yet (after-save: killed as soon as Save
// returned) or it was under way (in-upload). The next start opens the same
// directory with the engine's wiring (a spool delivering to the real disk
// plugin); every version is then in the sink, byte for byte as saved, and
// a third device that has only the sink reads the game's data back.
func TestKilledBetweenLocalWriteAndSync(t *testing.T) {
	plugins := enginetest.BuildPlugin(t, "disk")
	for _, mode := range []string{"after-save", "in-upload"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			saved := runKilledGame(t, mode, dir)
			local := filepath.Join(dir, game, player)
			if len(saved) != 3 {
				t.Fatalf("the game saved %v, want three versions", saved)
			}
			if pending := outboxPending(t, local); len(pending) != len(saved) {
				t.Fatalf("after the kill %d versions wait in the outbox, want all %d (none was handed over)", len(pending), len(saved))
			}

			cfg := sync.SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{plugins}, Settings: map[string]string{"root": t.TempDir()}}
			sink := newLink(t, cfg)
			next := openDevice(t, "next start", []*link{sink}, func(o *saves.Options) { o.Dir = dir; o.DeviceName = "killed" })
			next.delivered(t, 30*time.Second)
			devID, _ := next.store.Device()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, sv := range saved {
				slot, id, _ := strings.Cut(sv, "/")
				if !strings.HasSuffix(id, "-"+devID) {
					t.Errorf("version %s was written by another device id than the restarted store's %s (counters would count twice)", id, devID)
				}
				want, err := os.ReadFile(filepath.Join(local, "v", slot, id+".sav"))
				if err != nil {
					t.Fatalf("the killed game's local copy of %s: %v", sv, err)
				}
				var got bytes.Buffer
				if _, err := sink.Get(ctx, versionKey(slot, id), &got, sdk.GetOptions{Length: -1}); err != nil {
					t.Fatalf("%s is not in the sink after the next start: %v", sv, err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s: the sink holds %d bytes, the local copy %d: they differ", sv, got.Len(), len(want))
				}
			}
			if pending := outboxPending(t, local); len(pending) != 0 {
				t.Errorf("%d versions still in the outbox after delivery: %v", len(pending), pending)
			}

			// Decoded by a device that has nothing but the sink.
			other := openDevice(t, "other", []*link{newLink(t, cfg)}, nil)
			other.sync(t)
			p, meta := other.load(t, "progress")
			if p.Coins.Value() != 10 || p.HighScore.Value() != 4242 || !p.Achieved.Has("killed") || p.Name.Get() != "before the kill" ||
				meta.Description != "saved before the kill" || meta.Device != "killed" || "progress/"+meta.ID != saved[2] {
				t.Errorf("the other device reads %+v (%+v), want the killed game's last progress %s: coins 10, best 4242", p, meta, saved[2])
			}
			var raw []byte
			if _, err := other.store.Load("raw", &raw); err != nil || !bytes.Equal(raw, killRaw()) {
				t.Errorf("the other device reads raw = %d bytes, %v; want the %d saved", len(raw), err, len(killRaw()))
			}
			var hist []string
			for _, v := range other.store.History("progress") {
				hist = append(hist, "progress/"+v.ID)
			}
			if !slices.Contains(hist, saved[0]) || !slices.Contains(hist, saved[2]) {
				t.Errorf("the other device's history of progress is %v, want both %s and %s", hist, saved[0], saved[2])
			}
		})
	}
}

// outboxPending reads a store's outbox log ("+SLOT@ID" written, "-SLOT@ID"
// handed over) and returns what is still pending.
func outboxPending(t *testing.T, local string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(local, "outbox.log"))
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	pending := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) < 2 {
			continue
		}
		if line[0] == '+' {
			pending[line[1:]] = true
		} else if line[0] == '-' {
			delete(pending, line[1:])
		}
	}
	var out []string
	for p := range pending {
		out = append(out, p)
	}
	return out
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

func TestVerifyComplete(t *testing.T) {
	rec := recordedSession(t)
	id := rec.Ref[strings.LastIndex(rec.Ref, "/")+1:]
	// The full ref, the bare id and a unique prefix all name the session.
	for _, ref := range []string{rec.Ref, id, id[:8]} {
		out, errOut, code := runTool(t, "--config", rec.Config, "verify", ref)
		if code != 0 || !strings.Contains(out, "90 frames decoded") || !strings.Contains(out, "complete") {
			t.Fatalf("verify %s: exit %d\n%s%s", ref, code, out, errOut)
		}
	}
}

// damagedCopy copies the recorded sink to a new root and returns a config
// for it and the session's directory there.
func damagedCopy(t *testing.T, rec recording) (cfg, sessionDir string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "sink")
	if out, err := exec.Command("cp", "-a", rec.Root, root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	k := strings.Split(rec.Ref, "/")
	return writeConfig(filepath.Join(t.TempDir(), "damaged.toml"), root, rec.PluginDir), filepath.Join(root, k[0], k[1], "sessions", k[2])
}

func TestVerifyReportsGapsAndCorruption(t *testing.T) {
	rec := recordedSession(t)

	t.Run("MissingSegment", func(t *testing.T) {
		cfg, dir := damagedCopy(t, rec)
		if err := os.Remove(filepath.Join(dir, "00000001.seg")); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runTool(t, "--config", cfg, "verify", rec.Ref)
		if code != 1 || !strings.Contains(out, "missing segment: 1") || !strings.Contains(out, "gap: frames 30-59 (30 frames)") ||
			!strings.Contains(out, "60 frames decoded") || !strings.Contains(errOut, "incomplete") {
			t.Fatalf("verify without segment 1: exit %d\n%s%s", code, out, errOut)
		}
	})

	// Losing the last segment is found only through the session's end
	// record; without the record verify cannot vouch for the end.
	t.Run("LastSegmentLost", func(t *testing.T) {
		cfg, dir := damagedCopy(t, rec)
		if err := os.Remove(filepath.Join(dir, "00000002.seg")); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runTool(t, "--config", cfg, "verify", rec.Ref)
		if code != 1 || !strings.Contains(out, "missing segment: 2") || !strings.Contains(out, "gap: frames 60-89 (30 frames)") || !strings.Contains(out, "ended:") {
			t.Fatalf("verify without the last segment: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("NoEndRecord", func(t *testing.T) {
		cfg, dir := damagedCopy(t, rec)
		if err := os.Remove(filepath.Join(dir, "session.json")); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runTool(t, "--config", cfg, "verify", rec.Ref)
		if code != 1 || !strings.Contains(out, "end record missing") || !strings.Contains(errOut, "--allow-unended") {
			t.Fatalf("verify without session.json: exit %d\n%s%s", code, out, errOut)
		}
		out, errOut, code = runTool(t, "--config", cfg, "verify", "--allow-unended", rec.Ref)
		if code != 0 || !strings.Contains(out, "90 frames decoded") {
			t.Fatalf("verify --allow-unended: exit %d\n%s%s", code, out, errOut)
		}
		out, _, _ = runTool(t, "--config", cfg, "sessions", "--json")
		if !strings.Contains(out, `"ended": false`) {
			t.Fatalf("sessions --json without session.json:\n%s", out)
		}
	})

	t.Run("FlippedByte", func(t *testing.T) {
		cfg, dir := damagedCopy(t, rec)
		p := filepath.Join(dir, "00000002.seg")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[200] ^= 0x10 // inside the payload of the first record (frame 60, a key frame)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runTool(t, "--config", cfg, "verify", rec.Ref)
		if code != 1 || !strings.Contains(out, "00000002.seg frame 60") || !strings.Contains(out, "CRC32C") ||
			!strings.Contains(out, "gap: frames 60-89") {
			t.Fatalf("verify with a flipped byte: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("Truncated", func(t *testing.T) {
		cfg, dir := damagedCopy(t, rec)
		p := filepath.Join(dir, "00000000.seg")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runTool(t, "--config", cfg, "verify", rec.Ref)
		if code != 1 || !strings.Contains(out, "00000000.seg") || !strings.Contains(out, "truncated") || !strings.Contains(out, "gap: frames") {
			t.Fatalf("verify with a truncated segment: exit %d\n%s%s", code, out, errOut)
		}
		// sessions still lists it, with the gap counted and the damage named.
		out, _, code = runTool(t, "--config", cfg, "sessions")
		if code != 0 || !strings.Contains(out, rec.Ref) || !strings.Contains(out, "damage found: truncated") {
			t.Fatalf("sessions over a truncated segment: exit %d\n%s", code, out)
		}
	})
}

func TestVerifyBadInput(t *testing.T) {
	rec := recordedSession(t)
	if _, errOut, code := runTool(t, "--config", rec.Config, "verify", "breakout/nobody/x"); code != 1 || !strings.Contains(errOut, "matches no recorded session") {
		t.Errorf("unknown session: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runTool(t, "--config", rec.Config, "verify"); code != 2 || !strings.Contains(errOut, "SESSION") {
		t.Errorf("no argument: exit %d, %q", code, errOut)
	}
}

var (
	otherOnce sync.Once
	otherRec  recording
	otherErr  error
)

// otherSession records (once per test binary) a second session of
// breakout, with another seed, into a sink of its own: the source of
// foreign segments, same-numbered and with other pixels.
func otherSession(t *testing.T) recording {
	t.Helper()
	rec := recordedSession(t)
	otherOnce.Do(func() {
		root := filepath.Join(testDir, "other-sink")
		cfg := writeConfig(filepath.Join(testDir, "other.toml"), root, rec.PluginDir)
		cmd := exec.Command(filepath.Join(rec.PluginDir, "breakout"), "-autoplay", "-seed", "2", "-lockstep", "-vsync=false",
			"-frames", fmt.Sprint(recordedFrames), "-size", "320x240", "-config", cfg)
		if out, err := cmd.CombinedOutput(); err != nil {
			otherErr = fmt.Errorf("record the other session: %v\n%s", err, out)
			return
		}
		sessions, err := filepath.Glob(filepath.Join(root, "breakout", "tester", "sessions", "*"))
		if err != nil || len(sessions) != 1 {
			otherErr = fmt.Errorf("want one recorded session under %s, found %v (%v)", root, sessions, err)
			return
		}
		otherRec = recording{Config: cfg, Root: root, PluginDir: rec.PluginDir, Ref: "breakout/tester/" + filepath.Base(sessions[0]),
			Frames: rec.Frames, Width: rec.Width, Height: rec.Height}
	})
	if otherErr != nil {
		t.Fatal(otherErr)
	}
	return otherRec
}

// sessionDir is the directory of rec's session in the disk sink at root.
func sessionDir(root string, rec recording) string {
	k := strings.Split(rec.Ref, "/")
	return filepath.Join(root, k[0], k[1], "sessions", k[2])
}

// segmentIndex is the index of one stored segment file.
func segmentIndex(t *testing.T, file string) []segment.IndexEntry {
	t.Helper()
	r, err := segment.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Index()
}

// damageCase is one way the stored recording gets damaged (90 frames in
// segments 0-2 of 30 frames each), and what every tool must make of it:
// frames from..to are damaged, of kind, in segment seg; every other frame
// is intact.
type damageCase struct {
	name     string
	kind     string
	seg      string
	from, to uint64
	apply    func(t *testing.T, dir string) // dir: the session's directory in a copy of the sink
}

func (c damageCase) intact(seq uint64) bool { return seq < c.from || seq > c.to }

// damageCases are the five kinds of damage the issue names, each in one
// segment of a copy of the recording.
func damageCases(t *testing.T) []damageCase {
	t.Helper()
	rec := recordedSession(t)
	other := otherSession(t)
	dir := sessionDir(rec.Root, rec)
	seg1 := filepath.Join(dir, "00000001.seg")
	idx := segmentIndex(t, seg1)
	if len(idx) != 30 || idx[0].Seq != 30 {
		t.Fatalf("segment 1 lists %d frames from %d, want frames 30-59", len(idx), idx[0].Seq)
	}
	// The CRC case damages frame 40's payload: the frames decoded from it
	// (deltas up to the next key frame in its segment) go with it.
	crcTo := uint64(59)
	for _, e := range idx[11:] {
		if e.Key {
			crcTo = e.Seq - 1
			break
		}
	}
	write := func(t *testing.T, name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(t *testing.T, name string) []byte {
		t.Helper()
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []damageCase{
		{name: "Foreign", kind: "foreign", seg: "00000001.seg", from: 30, to: 59, apply: func(t *testing.T, dir string) {
			// The same-numbered segment of another session, copied in.
			write(t, filepath.Join(dir, "00000001.seg"), read(t, filepath.Join(sessionDir(other.Root, other), "00000001.seg")))
		}},
		{name: "Misnumbered", kind: "misnumbered", seg: "00000002.seg", from: 60, to: 89, apply: func(t *testing.T, dir string) {
			// Segment 0 of this session stored again as segment 2.
			write(t, filepath.Join(dir, "00000002.seg"), read(t, filepath.Join(dir, "00000000.seg")))
		}},
		{name: "CRC", kind: "crc", seg: "00000001.seg", from: 40, to: crcTo, apply: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "00000001.seg")
			b := read(t, p)
			e := idx[10]
			b[e.Offset+36+(e.Size-36)/2] ^= 0x5a // inside frame 40's payload
			write(t, p, b)
		}},
		{name: "Truncated", kind: "truncated", seg: "00000001.seg", from: 45, to: 59, apply: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "00000001.seg")
			write(t, p, read(t, p)[:idx[15].Offset+20]) // cut inside frame 45's record header
		}},
		{name: "ZeroLength", kind: "zero-length", seg: "00000001.seg", from: 30, to: 59, apply: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "00000001.seg"), nil)
		}},
	}
}

// applyDamage makes a copy of the recorded sink damaged as c says and
// returns a config for it.
func applyDamage(t *testing.T, c damageCase) string {
	t.Helper()
	rec := recordedSession(t)
	cfg, dir := damagedCopy(t, rec)
	c.apply(t, dir)
	return cfg
}

// Each kind of damage is reported by verify with its kind, as a gap with
// that reason and as a damaged segment; the frames around it still count.
func TestVerifyNamesEachKindOfDamage(t *testing.T) {
	rec := recordedSession(t)
	for _, c := range damageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := applyDamage(t, c)
			out, errOut, code := runTool(t, "--config", cfg, "verify", rec.Ref)
			n := c.to - c.from + 1
			gap := fmt.Sprintf("gap: frames %d-%d (%d frames): %s: %s", c.from, c.to, n, c.kind, c.seg)
			if code != 1 || !strings.Contains(out, gap) || !strings.Contains(out, fmt.Sprintf("%d frames decoded", 90-n)) {
				t.Fatalf("verify: exit %d, want 1 with %q and %d frames decoded\n%s%s", code, gap, 90-n, out, errOut)
			}
			t.Logf("verify:\n%s%s", out, errOut)
			var damaged []string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "damaged (") {
					damaged = append(damaged, l)
				}
			}
			if len(damaged) == 0 || !strings.HasPrefix(damaged[0], "damaged ("+c.kind+"): ") || !strings.Contains(damaged[0], "/"+c.seg) {
				t.Fatalf("verify names the damage %q; want it to start with %q and name %s\n%s", damaged, "damaged ("+c.kind+")", c.seg, out)
			}
			if strings.Count(out, "gap: ") != 1 || !strings.Contains(errOut, "damage found: "+c.kind) {
				t.Fatalf("verify: want exactly the one gap, and 'damage found: %s' in the verdict\n%s%s", c.kind, out, errOut)
			}
		})
	}
	// A foreign segment in place of a missing one is not the session's
	// either: the session id is checked, not just that the numbers run on.
	t.Run("ForeignNamesBothSessions", func(t *testing.T) {
		other := otherSession(t)
		cfg := applyDamage(t, damageCases(t)[0])
		out, _, _ := runTool(t, "--config", cfg, "verify", rec.Ref)
		otherID := other.Ref[strings.LastIndex(other.Ref, "/")+1:]
		ownID := rec.Ref[strings.LastIndex(rec.Ref, "/")+1:]
		if !strings.Contains(out, "session id "+otherID) || !strings.Contains(out, "not session id "+ownID) {
			t.Fatalf("verify of a foreign segment should name its session %s and this one %s:\n%s", otherID, ownID, out)
		}
	})
}

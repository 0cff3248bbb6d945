package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
		// sessions still lists it, with the gap counted.
		out, _, code = runTool(t, "--config", cfg, "sessions")
		if code != 0 || !strings.Contains(out, rec.Ref) || !strings.Contains(out, "damaged") {
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

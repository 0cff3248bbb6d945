package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSessionsListsTheRecording(t *testing.T) {
	rec := recordedSession(t)
	out, errOut, code := runTool(t, "--config", rec.Config, "sessions")
	if code != 0 {
		t.Fatalf("sessions: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, rec.Ref) || !strings.Contains(out, " 90 ") {
		t.Fatalf("sessions table lacks %s with 90 frames:\n%s", rec.Ref, out)
	}
	out, errOut, code = runTool(t, "--config", rec.Config, "sessions", "--json")
	if code != 0 {
		t.Fatalf("sessions --json: exit %d\n%s", code, errOut)
	}
	var rows []sessionRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("sessions --json: %v\n%s", err, out)
	}
	if len(rows) != 1 {
		t.Fatalf("want 1 session, got %+v", rows)
	}
	r := rows[0]
	var stored int64
	filepath.Walk(filepath.Join(rec.Root, "breakout"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".seg") {
			stored += fi.Size()
		}
		return nil
	})
	if r.Session != rec.Ref || r.Game != "breakout" || r.Player != "tester" || r.Frames != rec.Frames || r.GapFrames != 0 ||
		r.Segments != 3 || r.Bytes != stored || r.Width != rec.Width || r.Height != rec.Height || r.Duration <= 0 || r.Start.IsZero() {
		t.Fatalf("session row %+v; want %s, %d frames in 3 segments, %d bytes, %dx%d, no gaps", r, rec.Ref, rec.Frames, stored, rec.Width, rec.Height)
	}
}

func TestSessionsBadInput(t *testing.T) {
	rec := recordedSession(t)
	if _, errOut, code := runTool(t, "--config", rec.Config, "sessions", "--sink", "nope"); code != 2 || !strings.Contains(errOut, "no such sink") || !strings.Contains(errOut, "local") {
		t.Errorf("--sink nope: exit %d, %q; want 2 naming the configured sinks", code, errOut)
	}
	if _, errOut, code := runTool(t, "--config", filepath.Join(t.TempDir(), "missing.toml"), "sessions"); code != 2 || !strings.Contains(errOut, "missing.toml") {
		t.Errorf("missing config: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runTool(t, "sessions", "--bogus"); code != 2 || !strings.Contains(errOut, "--bogus") {
		t.Errorf("unknown flag: exit %d, %q", code, errOut)
	}
}

// The listing says "damage found" for what it reads (headers and
// indexes): a foreign, misnumbered, cut short or empty segment. A payload
// whose CRC fails is found only by decoding it (verify, export, viewer):
// the listing, which must stay cheap, does not claim to know.
func TestSessionsSaysDamageFound(t *testing.T) {
	rec := recordedSession(t)
	for _, c := range damageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := applyDamage(t, c)
			out, errOut, code := runTool(t, "--config", cfg, "sessions", "--json")
			if code != 0 {
				t.Fatalf("sessions --json: exit %d\n%s", code, errOut)
			}
			var rows []struct {
				Frames    int      `json:"frames"`
				GapFrames uint64   `json:"gap_frames"`
				Damage    []string `json:"damage"`
			}
			if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
				t.Fatalf("sessions --json: %v\n%s", err, out)
			}
			r := rows[0]
			table, errOut, code := runTool(t, "--config", cfg, "sessions")
			if code != 0 {
				t.Fatalf("sessions: exit %d\n%s", code, errOut)
			}
			if c.kind == "crc" {
				if r.Damage == nil || len(r.Damage) != 0 || r.Frames != rec.Frames || strings.Contains(table, "damage found") {
					t.Fatalf("a CRC failure inside a payload is not visible to a listing; got damage %v, %d frames\n%s", r.Damage, r.Frames, table)
				}
				return
			}
			n := int(c.to - c.from + 1)
			if len(r.Damage) != 1 || r.Damage[0] != c.kind || r.Frames != rec.Frames-n || r.GapFrames != uint64(n) {
				t.Fatalf("row %+v: want damage [%s], %d frames, %d gap frames", r, c.kind, rec.Frames-n, n)
			}
			if !strings.Contains(table, fmt.Sprintf("%d (damage found: %s)", n, c.kind)) {
				t.Fatalf("sessions table does not say the damage found:\n%s", table)
			}
		})
	}
}

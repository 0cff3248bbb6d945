package spool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A journal left by a killed process becomes an ordinary item on the next
// Open, holding exactly the bytes synced, and is delivered; one whose item
// was committed is never delivered a second time, cut short, after it.
func TestJournalsSurviveAKill(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, []Sink{downSink("cloud")}, Options{MinBackoff: time.Hour})
	ctx := context.Background()

	open, err := s.Begin("g/p/sessions/S/00000003.seg", KindSegment)
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("frames "), 1000)
	if err := open.Append(part); err != nil || open.Sync() != nil {
		t.Fatal(err)
	}
	done, err := s.Begin("g/p/sessions/S/00000002.seg", KindSegment)
	if err != nil {
		t.Fatal(err)
	}
	whole := bytes.Repeat([]byte("whole "), 2000)
	done.Append(whole[:100])
	done.Sync()
	// Killed between the commit and the journal's removal: put the
	// journal back as it was.
	saved, _ := os.ReadFile(done.path)
	if err := done.Commit(ctx, whole); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(done.path, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	// The process dies: nothing closes open's journal.
	mustClose(t, s)

	sink := newFake("cloud")
	s2 := mustOpen(t, dir, []Sink{sink}, Options{})
	defer mustClose(t, s2)
	waitFor(t, "delivery", 5*time.Second, func() bool { return s2.Stats().Items == 0 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.counts["g/p/sessions/S/00000002.seg"] != 1 || sink.counts["g/p/sessions/S/00000003.seg"] != 1 {
		t.Fatalf("deliveries %v: want each segment once", sink.counts)
	}
	for _, p := range sink.puts {
		switch p.key {
		case "g/p/sessions/S/00000002.seg":
			if !bytes.Equal(p.data, whole) {
				t.Errorf("committed segment delivered as %d bytes, want the whole %d", len(p.data), len(whole))
			}
		case "g/p/sessions/S/00000003.seg":
			if !bytes.Equal(p.data, part) {
				t.Errorf("journal recovered as %d bytes, want the %d synced", len(p.data), len(part))
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, dirOpen, "*")); len(left) != 0 {
		t.Errorf("journals left after recovery: %v", left)
	}
}

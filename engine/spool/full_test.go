//go:build linux

package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
)

// smallDisk mounts a tmpfs of size bytes for the test (root only: the
// tests that need a real full file system are skipped, saying so,
// elsewhere; `make test` runs as root in CI).
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (a real full disk); run as root, as CI's `make test` does")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s: %v (as root this should work; is the test in a container without CAP_SYS_ADMIN?)", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// On a full disk with the sink down, the spool keeps the newest segments
// by evicting the oldest, writes records and saves from its reserve, fails
// a segment with ErrFull only when nothing is left to evict, says so once
// when the disk fills and once when it has room again, and loses nothing
// it did not report.
func TestFullDisk(t *testing.T) {
	disk := smallDisk(t, 4<<20)
	logs := &enginetest.LogBuffer{}
	s := mustOpen(t, disk, []Sink{downSink("cloud")}, Options{
		ReserveBytes: 256 << 10,
		MinBackoff:   time.Hour, // the sink stays down for the test
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	defer mustClose(t, s)
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(disk, reserveName)); err != nil {
		t.Fatalf("no reserve file after Open: %v", err)
	}

	// 40 segments of 256 KiB into 4 MiB: the newest always fit, the oldest
	// go; Accept never fails while an older segment is there to evict.
	seg := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 256<<10) }
	for i := range 40 {
		if err := s.Accept(ctx, Item{Key: fmt.Sprintf("g/p/sessions/S/%08d.seg", i), Kind: KindSegment, Data: seg(i)}); err != nil {
			t.Fatalf("segment %d: %v (older segments were there to evict)", i, err)
		}
	}
	st := s.Stats()
	if st.Evicted == 0 || !st.Full {
		t.Fatalf("after 10 MiB of segments on a 4 MiB disk: %+v, want evictions and Full", st)
	}
	// The newest segment is kept, whole.
	kept := s.itemKeys()
	if len(kept) == 0 || kept[len(kept)-1] != "g/p/sessions/S/00000039.seg" {
		t.Fatalf("items kept %v, want the newest last", kept)
	}

	// A record (a session's end record) fits on the full disk: from the
	// reserve, or by evicting a segment, never refused.
	if err := s.Accept(ctx, Item{Key: "g/p/sessions/S/session.json", Kind: KindRecord, Data: bytes.Repeat([]byte("r"), 4096)}); err != nil {
		t.Fatalf("end record on a full disk: %v", err)
	}

	// Fill the rest with a file the spool does not own: now a 4 MiB
	// segment cannot fit even after evicting every segment, and fails
	// with ErrFull; the record and the save are never evicted for it.
	if err := s.Accept(ctx, Item{Key: "g/p/saves/slot/v1.sav", Kind: KindSave, Data: []byte("save")}); err != nil {
		t.Fatalf("save on a full disk: %v", err)
	}
	ballast := filepath.Join(disk, "ballast")
	fillDisk(t, ballast)
	big := bytes.Repeat([]byte{40}, 4<<20)
	err := s.Accept(ctx, Item{Key: "g/p/sessions/S/00000040.seg", Kind: KindSegment, Data: big})
	if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "free space") {
		t.Fatalf("segment with the disk full of a foreign file = %v, want ErrFull saying to free space", err)
	}
	if st := s.Stats(); st.Refused != 1 || st.RefusedBytes != 4<<20 {
		t.Fatalf("stats after a refusal: %+v, want Refused 1", st)
	}
	keys := s.itemKeys()
	for _, want := range []string{"g/p/sessions/S/session.json", "g/p/saves/slot/v1.sav"} {
		if !contains(keys, want) {
			t.Fatalf("%s was evicted to make room for a segment: items %v", want, keys)
		}
	}

	// Room again: the next segment is kept and the recovery is logged.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(ctx, Item{Key: "g/p/sessions/S2/00000000.seg", Kind: KindSegment, Data: seg(41)}); err != nil {
		t.Fatalf("segment once there is room: %v", err)
	}
	if s.Stats().Full {
		t.Error("Stats.Full after an Accept that fit")
	}
	if n := strings.Count(logs.String(), "the disk is full: the oldest segments"); n != 1 {
		t.Errorf("%d 'disk is full' log lines, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "the disk has room again"); n != 1 {
		t.Errorf("%d 'room again' log lines, want 1:\n%s", n, logs.String())
	}
	if _, err := os.Stat(filepath.Join(disk, reserveName)); err != nil {
		t.Errorf("the reserve was not made again once there was room: %v", err)
	}
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	// Smaller writes take the last blocks.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// itemKeys lists the keys of the items kept, in ID order.
func (s *Spool) itemKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for _, it := range s.order {
		keys = append(keys, it.key)
	}
	return keys
}

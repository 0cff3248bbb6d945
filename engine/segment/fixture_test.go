package segment

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestFixtures decodes segments written by older writers — version 1
// (commit f88dfb1, before version 2 existed) and version 2 (commit
// 4f779b2, before version 3: tiled records with motion, copies of moved
// sprites, intra tiles, BGRA8, s2) — and compares every frame with the
// SHA-256 of its RGBA pixels recorded then, so that old recordings keep
// decoding to exactly the same frames.
func TestFixtures(t *testing.T) {
	for _, v := range []uint16{1, 2} {
		testFixtures(t, v)
	}
}

func testFixtures(t *testing.T, version uint16) {
	f, err := os.Open(fmt.Sprintf("testdata/v%d-frames.sha256", version))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string][]string{} // fixture → "seq key hash" per frame
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), " ")
		want[name] = append(want[name], rest)
	}
	if len(want) != 4 {
		t.Fatalf("v%d: %d fixtures listed", version, len(want))
	}
	for name, frames := range want {
		data, err := os.ReadFile("testdata/" + name + ".seg")
		if err != nil {
			t.Fatal(err)
		}
		if v := le.Uint16(data[8:]); v != version {
			t.Fatalf("%s: version %d, want a version-%d fixture", name, v, version)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(frames) {
			t.Fatalf("%s: %d frames, want %d", name, len(got), len(frames))
		}
		for i, fr := range got {
			if s := fmt.Sprintf("%d %t %x", fr.Seq, fr.Key, sha256.Sum256(fr.Image.Pix)); s != frames[i] {
				t.Errorf("%s frame %d: %s, want %s", name, i, s, frames[i])
			}
		}
	}
}

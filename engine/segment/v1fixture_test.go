package segment

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestV1Fixtures decodes segments written by the version-1 writer (commit
// f88dfb1, before version 2 existed) and compares every frame with the
// SHA-256 of its RGBA pixels recorded then, so that old recordings keep
// decoding to exactly the same frames.
func TestV1Fixtures(t *testing.T) {
	f, err := os.Open("testdata/v1-frames.sha256")
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
		t.Fatalf("%d fixtures listed", len(want))
	}
	for name, frames := range want {
		data, err := os.ReadFile("testdata/" + name + ".seg")
		if err != nil {
			t.Fatal(err)
		}
		if v := le.Uint16(data[8:]); v != 1 {
			t.Fatalf("%s: version %d, want a version-1 fixture", name, v)
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

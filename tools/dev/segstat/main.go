// Command segstat summarises a recorded capture session for benchmarks:
// frames, gaps, stored bytes per frame, and what the same frames would take
// as one PNG each. It is a developer tool; players use `skyloop verify`.
//
// Usage: segstat SESSION_DIR
package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"sort"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: segstat SESSION_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "segstat:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no .seg files in %s", dir)
	}
	sort.Strings(paths)
	var frames, gaps, keys int
	var stored, pngBytes int64
	var pngSamples int
	var w, h int
	next := uint64(0)
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		stored += int64(len(data))
		fs, err := segment.Decode(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, f := range fs {
			if (i > 0 || frames > 0) && f.Seq > next {
				gaps += int(f.Seq - next)
			}
			next = f.Seq + 1
			if f.Key {
				keys++
			}
			w, h = f.Image.Bounds().Dx(), f.Image.Bounds().Dy()
			// PNG-per-frame baseline: encode every 10th frame.
			if frames%10 == 0 {
				var buf bytes.Buffer
				if err := png.Encode(&buf, f.Image); err != nil {
					return err
				}
				pngBytes += int64(buf.Len())
				pngSamples++
			}
			frames++
		}
	}
	if frames == 0 {
		return fmt.Errorf("no frames in %s", dir)
	}
	perFrame := float64(stored) / float64(frames)
	pngPerFrame := float64(pngBytes) / float64(pngSamples)
	fmt.Printf("size=%dx%d segments=%d frames=%d gaps=%d keyframes=%d stored_bytes=%d bytes_per_frame=%.0f png_bytes_per_frame=%.0f png_over_stored=%.1f\n",
		w, h, len(paths), frames, gaps, keys, stored, perFrame, pngPerFrame, pngPerFrame/perFrame)
	return nil
}

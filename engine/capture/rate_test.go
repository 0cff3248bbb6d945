package capture

import (
	"testing"
	"time"
)

func TestCaptureRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// Every 3rd rendered frame.
	r := &Recorder{opts: Options{Every: 3}}
	var got []int
	for i := 0; i < 10; i++ {
		if r.due(t0.Add(time.Duration(i) * time.Millisecond)) {
			got = append(got, i)
		}
		r.frameN++
	}
	if len(got) != 4 || got[0] != 0 || got[1] != 3 || got[3] != 9 {
		t.Fatalf("every 3rd: captured frames %v", got)
	}
	// 30 fps target while rendering at 120 fps: every 4th frame, on cadence.
	r = &Recorder{opts: Options{Every: 1, FPS: 30}}
	n := 0
	for i := 0; i < 240; i++ { // two seconds
		if r.due(t0.Add(time.Duration(i) * time.Second / 120)) {
			n++
		}
	}
	if n < 59 || n > 61 {
		t.Fatalf("fps 30 over 2 s at 120 fps rendering: %d frames, want 60", n)
	}
	// Rendering slower than the target: every frame is captured.
	r = &Recorder{opts: Options{Every: 1, FPS: 30}}
	n = 0
	for i := 0; i < 20; i++ {
		if r.due(t0.Add(time.Duration(i) * time.Second / 20)) {
			n++
		}
	}
	if n != 20 {
		t.Fatalf("fps 30 at 20 fps rendering: %d of 20 frames", n)
	}
}

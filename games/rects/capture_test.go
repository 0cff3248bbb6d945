package main

import (
	"testing"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/capture/capturetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// What the recorder stores of the rectangles is exactly what was drawn,
// frame by frame, in both readback modes.
func TestRecordingMatchesWhatWasDrawn(t *testing.T) {
	for _, mode := range []capture.ReadbackMode{capture.ReadbackSync, capture.ReadbackPBO} {
		t.Run(mode.String(), func(t *testing.T) {
			capturetest.VerifyRecording(t, newGame(1), 1280, 720, 60, mode, segment.CodecZstd)
		})
	}
}

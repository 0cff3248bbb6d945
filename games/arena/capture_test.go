package main

import (
	"testing"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/capture/capturetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// What the recorder stores of a real game is exactly what it drew, frame by
// frame, in both readback modes.
func TestRecordingMatchesWhatWasDrawn(t *testing.T) {
	for _, mode := range []capture.ReadbackMode{capture.ReadbackSync, capture.ReadbackPBO} {
		t.Run(mode.String(), func(t *testing.T) {
			capturetest.VerifyRecording(t, newGame(1, true), 1280, 720, 120, mode, segment.CodecZstd)
		})
	}
}

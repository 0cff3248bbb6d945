// Package enginetest holds helpers for tests that open a window: engine,
// capture and sample-game tests use it to find the display that `make test`
// starts (Xvfb with Mesa llvmpipe).
//
// Where it sits in the flow: beside the engine, for tests only.
package enginetest

// Package enginetest holds helpers for the engine's real-component tests:
// finding the display that `make test` starts (Xvfb with Mesa llvmpipe),
// building a plugin binary from plugins/NAME, and faking a storage outage
// by making a directory unwritable.
//
// Where it sits in the flow: beside the engine, for tests only.
package enginetest

// Package capturetest checks, for any game, that what capture records is
// exactly what the game drew: it runs the game with recording on, hashes
// every frame as drawn, decodes the recorded segments and compares.
//
// Where it sits in the flow: beside engine/capture, for tests of games and
// of the capture pipeline.
package capturetest

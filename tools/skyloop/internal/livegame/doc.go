// Command livegame is the game the tool's live tests and glass-to-glass
// benchmark record: every frame it draws carries its own number, as 16
// black or white cells along the top edge, which a viewer's canvas can be
// read for; and it notes when it drew each number.
//
// Where it sits in the flow: a game on top of engine, built and run by
// tools/skyloop's tests (live_test.go) as a separate process that records
// through the spool to a sink while the tool follows the session. With
// LIVEGAME_TIMES=FILE it writes "NUMBER UNIXNANO" lines, one per frame
// drawn, to FILE when it exits.
package main

// Package sdk is the contract between skyloop and its storage plugins.
//
// Where it sits in the flow: the engine's sync host (engine/sync) moves
// spooled segments and saves to sinks; each sink is a plugin process that
// implements Backend — dumb storage of blobs under keys — and calls Serve.
// Everything smart (segmenting, retries, spooling, merging) stays in the
// engine, so a plugin author writes only the storage calls. The errors,
// key rules and capability flags here are the shared vocabulary of both
// sides; sdk/synctest checks that a backend honours them.
package sdk

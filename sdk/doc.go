// Package sdk is the contract between skyloop and its storage plugins.
//
// Where it sits in the flow: the engine's sync host (engine/sync) moves
// spooled segments and saves to sinks; each sink is a plugin process that
// implements Backend — dumb storage of blobs under keys — and calls Serve.
// Everything smart (segmenting, retries, spooling, merging) stays in the
// engine, so a plugin author writes only the storage calls. The errors,
// key rules and capability flags here are the shared vocabulary of both
// sides; sdk/synctest checks that a backend honours them.
//
// The process boundary: a plugin's main calls Serve, which answers
// `-describe` with JSON or serves protocol v1 (sdk/proto/v1) over gRPC
// through hashicorp/go-plugin, with AutoMTLS. The host calls Launch, which
// checks the binary (and its optional SHA-256 pin), performs the
// handshake, sends the settings (Configure) and returns a Client — itself
// a Backend, so the engine cannot tell a plugin from an in-process
// backend. On Linux, Put payloads cross through a shared-memory region (a
// memfd the plugin receives as file descriptor 3) with gRPC carrying only
// offsets (PutShared); otherwise, and for Get, they cross in 1 MiB chunks
// (ChunkSize) of a gRPC stream. Errors travel as gRPC status codes with a
// detail that rebuilds the sentinel errors on the host, so errors.Is and
// IsRetryable work across the boundary.
package sdk

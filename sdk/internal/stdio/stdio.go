// Package stdio keeps a plugin's stray stdout writes away from the
// go-plugin handshake. sdk.Serve calls Reserve before go-plugin prints its
// handshake line: the real stdout moves to a private descriptor (returned,
// for go-plugin), and fd 1 is pointed at stderr, so that anything written
// to fd 1 directly (C code, an *os.File captured before Serve) lands in
// the host's log instead of corrupting the protocol.
package stdio

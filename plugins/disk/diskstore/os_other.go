//go:build !unix

package diskstore

import "os"

// noFollow is not available here; os.Root still refuses links that leave
// the root, and backend.lstat refuses the rest.
const noFollow = 0

// lockRoot is a no-op without flock: commits are serialised per key within
// one process only (backend.locks); two processes on one root are not
// coordinated.
func lockRoot(root *os.Root) (func(), error) { return func() {}, nil }

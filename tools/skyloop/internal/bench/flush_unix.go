//go:build unix

package bench

import "syscall"

// flushWrites has the kernel write dirty pages out (sync(2)), so that one
// benchmark run's stored bytes are not written back during the next.
func flushWrites() { syscall.Sync() }

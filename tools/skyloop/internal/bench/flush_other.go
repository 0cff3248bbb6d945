//go:build !unix

package bench

// flushWrites is a no-op where sync(2) does not exist.
func flushWrites() {}

//go:build !unix

package spool

import "os"

// lockDir opens dir/LOCK. On platforms without flock the directory is not
// protected against a second Spool; callers must not share it.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
}

func unlockDir(f *os.File) error { return f.Close() }

// freeBytes is not known on this platform.
func freeBytes(dir string) (int64, bool) { return 0, false }

//go:build unix

package diskstore

import (
	"os"
	"syscall"
)

// noFollow makes opening a symbolic link fail.
const noFollow = syscall.O_NOFOLLOW

// lockRoot takes an exclusive flock on the root's lock file, so that
// plugin processes sharing a root commit one at a time. Each call opens
// its own descriptor: flock locks belong to the open file description, so
// goroutines of one process exclude each other too.
func lockRoot(root *os.Root) (func(), error) {
	f, err := root.OpenFile(lockName, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

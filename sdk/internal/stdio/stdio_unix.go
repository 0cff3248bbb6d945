//go:build unix

package stdio

import (
	"os"

	"golang.org/x/sys/unix"
)

// Reserve duplicates fd 1 to a private descriptor, points fd 1 at stderr,
// and returns the private stdout (or os.Stdout unchanged if that fails).
func Reserve() *os.File {
	fd, err := unix.Dup(1)
	if err != nil {
		return os.Stdout
	}
	unix.CloseOnExec(fd)
	if err := unix.Dup2(2, 1); err != nil {
		unix.Close(fd)
		return os.Stdout
	}
	return os.NewFile(uintptr(fd), "/dev/stdout")
}

package sdk

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// createShm creates and maps a memfd of size bytes for a plugin: the file
// goes to the plugin's command (ExtraFiles), the region stays with the
// host.
func createShm(size int) (*os.File, *shmRegion, error) {
	fd, err := unix.MemfdCreate("skyloop-shm", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "skyloop-shm")
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("sizing the shared region: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("mapping the shared region: %w", err)
	}
	return f, newShmRegion(mem, unix.Munmap), nil
}

// openShm maps the region the host passed as file descriptor shmFD, in the
// plugin; nil when there is none or it is not usable (the host then falls
// back to the stream).
func openShm() []byte {
	size, err := strconv.Atoi(os.Getenv(envShmSize))
	if err != nil || size <= 0 {
		return nil
	}
	os.Unsetenv(envShmSize)
	var st unix.Stat_t
	if err := unix.Fstat(shmFD, &st); err != nil || st.Size != int64(size) {
		return nil
	}
	unix.CloseOnExec(shmFD)
	mem, err := unix.Mmap(shmFD, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	// The mapping outlives the descriptor.
	unix.Close(shmFD)
	return mem
}

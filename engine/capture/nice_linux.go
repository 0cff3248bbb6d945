package capture

import "syscall"

// lowerThreadPriority adds by to the nice value of the calling OS thread
// (on Linux, setpriority with a thread id sets that thread alone). The
// caller has locked its goroutine to the thread.
func lowerThreadPriority(by int) error {
	tid := syscall.Gettid()
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return err
	}
	// The raw syscall returns 20-nice.
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(19, 20-cur+by))
}

//go:build !linux

package capture

// lowerThreadPriority does nothing outside Linux.
func lowerThreadPriority(int) error { return nil }

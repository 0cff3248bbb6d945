//go:build !unix

package stdio

import "os"

// Reserve returns os.Stdout: no descriptor juggling on this platform.
func Reserve() *os.File { return os.Stdout }

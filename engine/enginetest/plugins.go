package enginetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildPlugin builds skyloop-plugin-NAME from plugins/NAME into a fresh
// directory and returns the directory (for plugin_dir or sync.SinkConfig.Dirs).
func BuildPlugin(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "skyloop-plugin-"+name), "github.com/skyloop-engine/skyloop/plugins/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("build plugin %s: %v\n%s", name, err, out)
	}
	return dir
}

// SetWritable makes dir unwritable (on=false) or writable again, to fake a
// storage outage. Root ignores mode bits, so as root the directory gets the
// immutable attribute (chattr +i, from e2fsprogs) instead of chmod 0555.
func SetWritable(dir string, on bool) error {
	if os.Geteuid() != 0 {
		mode := os.FileMode(0o555)
		if on {
			mode = 0o755
		}
		return os.Chmod(dir, mode)
	}
	flag := "+i"
	if on {
		flag = "-i"
	}
	if out, err := exec.Command("chattr", flag, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("chattr %s %s (needed to make a directory unwritable as root; needs e2fsprogs and a file system with the immutable attribute): %v %s", flag, dir, err, out)
	}
	return nil
}

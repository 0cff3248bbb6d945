package engine

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/plugins/ftp/ftptest"
)

// A game records through the spool to an FTP sink only (the real ftp
// plugin against a real vsftpd requiring TLS, with require_ssl_reuse):
// the segment files on the server's disk decode to exactly the frames
// that were drawn, and `skyloop verify` reads the session back through
// the plugin and passes.
func TestRecordingReachesFTP(t *testing.T) {
	enginetest.RequireDisplay(t)
	srv := ftptest.StartVsftpd(t, ftptest.Options{TLS: true})
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "ftp")
	const root = "/games"
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf(`player = "tester"
plugin_dir = %q
spool_dir = %q
[capture]
segment_frames = 10
drop = "block"
[[sink]]
name = "nas"
plugin = "ftp"
[sink.settings]
host = %q
port = "%d"
user = %q
password = %q
root = %q
tls = "explicit"
ca_file = %q
`, pluginDir, filepath.Join(dir, "spool"), srv.Host, srv.Port, srv.User, srv.Password, root, srv.CAFile)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	const n = 35
	drawn, stats := recordMovingScene(t, "ftptest", cfg, n)

	// The server's disk holds the segments under their own names.
	sessionDir := filepath.Join(srv.Dir, root, "ftptest", "tester", "sessions", stats.Sessions[0])
	next := uint64(0)
	for i := range 4 {
		data, err := os.ReadFile(filepath.Join(sessionDir, fmt.Sprintf("%08d.seg", i)))
		if err != nil {
			t.Fatalf("segment %d on the server: %v", i, err)
		}
		fs, err := segment.Decode(data)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		for _, f := range fs {
			if f.Seq != next || f.Seq >= n || sha256.Sum256(f.Image.Pix) != drawn[f.Seq] {
				t.Fatalf("segment %d: frame %d (want %d) differs from what was drawn", i, f.Seq, next)
			}
			next++
		}
	}
	if next != n {
		t.Fatalf("%d frames on the server, want %d", next, n)
	}
	if _, err := os.Stat(filepath.Join(sessionDir, "session.json")); err != nil {
		t.Fatalf("no session end record on the server: %v", err)
	}

	// skyloop verify reads it back through the plugin.
	tool := filepath.Join(dir, "skyloop")
	build := exec.Command("go", "build", "-o", tool, "github.com/skyloop-engine/skyloop/tools/skyloop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build skyloop: %v\n%s", err, out)
	}
	ref := "ftptest/tester/" + stats.Sessions[0]
	out, err := exec.Command(tool, "--config", cfg, "verify", "--sink", "nas", ref).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d frames decoded", n)) {
		t.Fatalf("skyloop verify %s from the FTP sink: %v\n%s", ref, err, out)
	}
	if strings.Contains(string(out), srv.Password) {
		t.Error("skyloop verify printed the FTP password")
	}
	t.Logf("skyloop verify: %s", strings.TrimSpace(string(out)))
}

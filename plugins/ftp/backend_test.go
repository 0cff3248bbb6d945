package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/plugins/ftp/ftptest"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

// The tests run against real servers started on 127.0.0.1 by ftptest:
// Debian's vsftpd (LIST only, no MLSD) and pure-ftpd (MLSD), each plain
// and with TLS required on control and data connections.

type serverKind struct {
	name  string
	start func(testing.TB, ftptest.Options) *ftptest.Server
	opts  ftptest.Options
}

var servers = []serverKind{
	{"vsftpd", ftptest.StartVsftpd, ftptest.Options{}},
	{"vsftpd-tls", ftptest.StartVsftpd, ftptest.Options{TLS: true}},
	{"pure-ftpd", ftptest.StartPureFTPd, ftptest.Options{}},
	{"pure-ftpd-tls", ftptest.StartPureFTPd, ftptest.Options{TLS: true}},
}

// settingsFor are the settings for srv under a fresh root directory that
// does not exist yet (the backend creates it).
func settingsFor(srv *ftptest.Server) map[string]string {
	s := srv.Settings()
	s["root"] = "/t-" + randHex() + "/sink"
	return s
}

func open(t *testing.T, settings map[string]string) *backend {
	t.Helper()
	b, err := newBackend(t.Context(), settings)
	if err != nil {
		t.Fatalf("newBackend: %v", err)
	}
	t.Cleanup(func() { b.(*backend).Close() })
	return b.(*backend)
}

func TestConformance(t *testing.T) {
	for _, k := range servers {
		t.Run(k.name, func(t *testing.T) {
			srv := k.start(t, k.opts)
			synctest.Run(t, func(t *testing.T) sdk.Backend {
				return open(t, settingsFor(srv))
			})
		})
	}
}

// The conformance suite through the built plugin binary, as a plugin
// author runs it: `skyloop plugin check` (one plugin process per check,
// root given a unique suffix per check, which the plugin creates).
func TestPluginCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	plugin, tool := filepath.Join(dir, "skyloop-plugin-ftp"), filepath.Join(dir, "skyloop")
	if out, err := exec.Command("go", "build", "-o", plugin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	build := exec.Command("go", "build", "-o", tool, "github.com/skyloop-engine/skyloop/tools/skyloop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build skyloop: %v\n%s", err, out)
	}
	for _, k := range []serverKind{servers[1], servers[2]} {
		t.Run(k.name, func(t *testing.T) {
			srv := k.start(t, k.opts)
			args := []string{"plugin", "check", plugin}
			s := srv.Settings()
			s["root"] = "/check-" + randHex() // not a local directory: used as given, per check
			for _, name := range []string{"host", "port", "user", "password", "root", "tls", "ca_file"} {
				if v, ok := s[name]; ok {
					args = append(args, "--set", name+"="+v)
				}
			}
			cmd := exec.Command(tool, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			t.Logf("skyloop plugin check:\n%s", stdout.String())
			if err != nil {
				t.Fatalf("skyloop plugin check: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), " 0 failed") {
				t.Fatalf("summary does not say 0 failed")
			}
			if strings.Contains(stdout.String()+stderr.String(), srv.Password) {
				t.Errorf("the password appears in the output")
			}
			// Each check had its own root under the given one.
			ents, err := os.ReadDir(filepath.Join(srv.Dir, s["root"]))
			if err != nil || len(ents) != 1 {
				t.Fatalf("root %s on the server: %v, %v; want one run directory", s["root"], ents, err)
			}
			checks, _ := os.ReadDir(filepath.Join(srv.Dir, s["root"], ents[0].Name()))
			if len(checks) < 40 {
				t.Errorf("%d per-check roots, want one per check", len(checks))
			}
		})
	}
}

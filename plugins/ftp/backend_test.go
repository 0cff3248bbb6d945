package main

import (
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

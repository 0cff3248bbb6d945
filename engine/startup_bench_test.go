package engine

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
)

// BenchmarkStartup measures a game's start-up as a player sees it: from
// Run to the first frame in the window, with no sink, with an S3 sink whose
// endpoint does not listen, and with a reachable one. Sinks start in the
// background, overlapping the window's creation, so the unreachable sink
// costs (nearly) nothing:
//
//	tools/dev/with-xvfb.sh go test ./engine -run '^$' -bench Startup -benchtime 10x
func BenchmarkStartup(b *testing.B) {
	enginetest.RequireDisplay(b)
	srv := enginetest.StartS3Server(b)
	pluginDir := enginetest.BuildPlugin(b, "s3")
	dir := b.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			b.Fatal(err)
		}
		return p
	}
	up := write("up.toml", s3SinkConfig(pluginDir, filepath.Join(dir, "spool-up"), srv, ""))
	// The discard port: nothing listens there.
	downDoc := strings.Replace(s3SinkConfig(pluginDir, filepath.Join(dir, "spool-down"), srv, "exit_wait_seconds = 0"), srv.Endpoint, "http://127.0.0.1:9", 1)
	down := write("down.toml", downDoc)
	for _, bc := range []struct {
		name   string
		config string
	}{
		{"NoSink", ""},
		{"UnreachableS3", down},
		{"ReachableS3", up},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				g := &sceneGame{w: 64, h: 48, draw: func(c *gfx.Canvas) { c.Clear(bg) }}
				start := time.Now()
				var first time.Duration
				opts := Options{Name: "startbench", Width: 64, Height: 48, MaxFrames: 1, VSyncOff: true,
					ConfigPath: bc.config, CaptureOff: bc.config == "", Logger: testLogger(io.Discard)}
				opts.afterPresent = func(int, int) {
					if first == 0 {
						first = time.Since(start)
					}
				}
				if err := Run(g, opts); err != nil {
					b.Fatal(err)
				}
				total += first
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-first-frame")
		})
	}
}

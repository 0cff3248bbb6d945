package engine

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/skyloop-engine/skyloop/engine/config"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

func testLogger(buf io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func s3SinkConfig(pluginDir, spool string, srv *enginetest.S3Server, extra string) string {
	return fmt.Sprintf(`player = "tester"
plugin_dir = %q
spool_dir = %q
%s
[capture]
segment_frames = 30
drop = "block"
[[sink]]
name = "cloud"
plugin = "s3"
[sink.settings]
bucket = %q
endpoint = %q
access_key_id = %q
secret_access_key = %q
`, pluginDir, spool, extra, srv.Bucket, srv.Endpoint, srv.Access, srv.Secret)
}

// movingGame draws a different frame every time and remembers each one's
// hash, so what reaches a sink can be compared with what was drawn.
func movingGame(w, h int, drawn *[][32]byte) *sceneGame {
	frame := 0
	g := &sceneGame{w: w, h: h}
	g.draw = func(c *gfx.Canvas) {
		c.Clear(bg)
		c.FillRect(float64(frame%(w-4)), float64((frame/(w-4))%(h-4)), 4, 4, yellow)
		frame++
		img, err := c.ReadPixels()
		if err != nil {
			g.err = err
			return
		}
		*drawn = append(*drawn, sha256.Sum256(img.Pix))
	}
	return g
}

// A game whose only sink is an S3 store that does not listen (a player
// offline, a server down) starts, plays and exits 0, with every segment in
// the spool; the next start, with the store up, delivers them, and the
// session read back from the bucket holds exactly the frames drawn.
func TestUnreachableS3SinkNeverStopsTheGame(t *testing.T) {
	enginetest.RequireDisplay(t)
	srv := enginetest.StartS3Server(t)
	srv.Stop()
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "s3")
	spoolDir := filepath.Join(dir, "spool")
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(s3SinkConfig(pluginDir, spoolDir, srv, "")), 0o644); err != nil {
		t.Fatal(err)
	}

	const n = 300
	var drawn [][32]byte
	var logs enginetest.LogBuffer
	var stats FrameStats
	g := movingGame(64, 48, &drawn)
	if err := Run(g, Options{Name: "offline", Width: 64, Height: 48, MaxFrames: n, VSyncOff: true, Lockstep: true,
		ConfigPath: cfg, Stats: &stats, Logger: testLogger(&logs)}); err != nil {
		t.Fatalf("Run with an unreachable sink: %v\n%s", err, logs.String())
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	if len(drawn) != n || stats.Capture.FramesEncoded != n || len(stats.Sessions) != 1 {
		t.Fatalf("drew %d frames, encoded %d, sessions %v; want %d, %d, one", len(drawn), stats.Capture.FramesEncoded, stats.Sessions, n, n)
	}
	if !strings.Contains(logs.String(), "sink unavailable") || !strings.Contains(logs.String(), "cannot reach endpoint "+srv.Endpoint) {
		t.Errorf("the log does not say the sink is unreachable and where:\n%s", logs.String())
	}
	spooled, _ := filepath.Glob(filepath.Join(spoolDir, "offline", "data", "*"))
	if len(spooled) != n/30+2 {
		t.Fatalf("spool holds %d items, want the %d segments, the end record and the player's catalog", len(spooled), n/30)
	}

	// The store comes back; the next start delivers the first session.
	srv.Restart(t)
	var drawn2 [][32]byte
	logs = enginetest.LogBuffer{}
	if err := Run(movingGame(64, 48, &drawn2), Options{Name: "offline", Width: 64, Height: 48, MaxFrames: 5, VSyncOff: true, Lockstep: true,
		ConfigPath: cfg, Logger: testLogger(&logs)}); err != nil {
		t.Fatalf("second Run: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "recording to sink cloud") || !strings.Contains(logs.String(), "s3://"+srv.Bucket+"/offline/tester/sessions/") {
		t.Errorf("the log does not say where the game records:\n%s", logs.String())
	}
	checkS3Session(t, srv, "offline/tester/sessions/"+stats.Sessions[0]+"/", drawn)
}

// checkS3Session reads a session back from the bucket with a plain S3
// client: its end record, and every frame in order, equal to drawn.
func checkS3Session(t *testing.T, srv *enginetest.S3Server, prefix string, drawn [][32]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := srv.Client(ctx)
	get := func(key string) []byte {
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer out.Body.Close()
		data, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		return data
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(srv.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if len(keys) == 0 || keys[len(keys)-1] != segment.ManifestKey(prefix) {
		t.Fatalf("bucket holds %v under %s, want segments and the end record", keys, prefix)
	}
	m, err := segment.ParseManifest(get(keys[len(keys)-1]))
	if err != nil || m.Segments != uint64(len(keys)-1) || m.Frames != uint64(len(drawn)) {
		t.Fatalf("end record %+v, %v: want %d segments, %d frames", m, err, len(keys)-1, len(drawn))
	}
	next := uint64(0)
	for _, k := range keys[:len(keys)-1] {
		frames, err := segment.Decode(get(k))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, f := range frames {
			if f.Seq != next || f.Seq >= uint64(len(drawn)) || sha256.Sum256(f.Image.Pix) != drawn[f.Seq] {
				t.Fatalf("%s: frame seq %d (want %d) differs from what was drawn", k, f.Seq, next)
			}
			next++
		}
	}
	if next != uint64(len(drawn)) {
		t.Fatalf("%d frames in the bucket, want %d", next, len(drawn))
	}
}

// Settings a plugin rejects offline stop the game at start, naming the
// problem, for every plugin: they are a config to fix, not an outage.
func TestInvalidSinkSettingsStopTheGame(t *testing.T) {
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	diskDir := enginetest.BuildPlugin(t, "disk")
	s3Dir := enginetest.BuildPlugin(t, "s3")
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"DiskUnknownKey", fmt.Sprintf("plugin_dir = %q\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\ncolour = \"blue\"\n", diskDir, dir), `unknown setting "colour"`},
		{"DiskMissingRoot", fmt.Sprintf("plugin_dir = %q\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n", diskDir), "root"},
		{"S3BadPartSize", fmt.Sprintf("plugin_dir = %q\n[[sink]]\nname = \"cloud\"\nplugin = \"s3\"\n[sink.settings]\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:9\"\naccess_key_id = \"a\"\nsecret_access_key = \"s\"\npart_size_mb = \"1\"\n", s3Dir), "part_size_mb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config.toml")
			doc := fmt.Sprintf("spool_dir = %q\n", filepath.Join(t.TempDir(), "spool")) + tc.doc
			if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			g := &sceneGame{w: 16, h: 16, draw: func(c *gfx.Canvas) { c.Clear(bg) }}
			err := Run(g, Options{Name: "badcfg", Width: 16, Height: 16, MaxFrames: 100, VSyncOff: true, ConfigPath: cfg})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "invalid settings") {
				t.Fatalf("Run = %v, want an invalid-settings error naming %q", err, tc.want)
			}
			if g.ticks != 0 {
				t.Errorf("the game ran %d ticks before the error; it must stop at start", g.ticks)
			}
		})
	}
}

// A game built any way (go run, go build, go install) records to disk with
// no skyloop-plugin-disk binary anywhere: the engine serves the disk
// plugin from the game's own executable, in a process of its own.
func TestBuiltinDiskPluginRecords(t *testing.T) {
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	t.Setenv("PATH", "/usr/bin:/bin")
	t.Setenv("GOBIN", filepath.Join(dir, "gobin"))
	root := filepath.Join(dir, "sink")
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf("player = \"tester\"\nspool_dir = %q\n[capture]\nsegment_frames = 10\ndrop = \"block\"\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		filepath.Join(dir, "spool"), root)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var drawn [][32]byte
	var logs enginetest.LogBuffer
	var stats FrameStats
	if err := Run(movingGame(32, 24, &drawn), Options{Name: "builtin", Width: 32, Height: 24, MaxFrames: 25, VSyncOff: true, Lockstep: true,
		ConfigPath: cfg, Stats: &stats, Logger: testLogger(&logs)}); err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "built-in disk plugin") || !strings.Contains(logs.String(), filepath.Join(root, "builtin", "tester", "sessions")) {
		t.Errorf("the log does not say that the built-in disk plugin records, and where:\n%s", logs.String())
	}
	sessionDir := filepath.Join(root, "builtin", "tester", "sessions", stats.Sessions[0])
	segs, _ := filepath.Glob(filepath.Join(sessionDir, "*.seg"))
	if len(segs) != 3 {
		t.Fatalf("%d segments in %s, want 3 (25 frames, 10 per segment)", len(segs), sessionDir)
	}
	next := uint64(0)
	for _, p := range segs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		frames, err := segment.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, f := range frames {
			if f.Seq != next || sha256.Sum256(f.Image.Pix) != drawn[f.Seq] {
				t.Fatalf("%s: frame %d differs from what was drawn", p, f.Seq)
			}
			next++
		}
	}
	if next != 25 {
		t.Fatalf("%d frames stored, want 25", next)
	}
	if _, err := os.Stat(filepath.Join(sessionDir, "session.json")); err != nil {
		t.Errorf("no end record: %v", err)
	}
}

// A second copy of a game that records is refused with a message that
// says how to run two.
func TestSecondInstanceSaysHowToRunTwo(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse("test", []byte(fmt.Sprintf("spool_dir = %q\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		filepath.Join(dir, "spool"), filepath.Join(dir, "sink"))))
	if err != nil {
		t.Fatal(err)
	}
	first, err := openStorage(cfg, "twice", true, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer first.close()
	_, err = openStorage(cfg, "twice", true, testLogger(io.Discard))
	if err == nil || !strings.Contains(err.Error(), "another copy of twice is running") || !strings.Contains(err.Error(), "spool_dir") || !strings.Contains(err.Error(), "-capture=false") {
		t.Fatalf("second instance: %v, want a message naming the way to run two", err)
	}
}

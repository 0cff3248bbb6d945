package engine

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// A game records to an S3 sink only (the real s3 plugin against a real
// versitygw): the segments listed and read back from the bucket with a
// plain S3 client decode to exactly the frames that were drawn.
func TestRecordingReachesS3(t *testing.T) {
	enginetest.RequireDisplay(t)
	srv := enginetest.StartS3Server(t)
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "s3")
	const prefix = "rec/"
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf(`player = "tester"
plugin_dir = %q
spool_dir = %q
[capture]
segment_frames = 10
drop = "block"
[[sink]]
name = "cloud"
plugin = "s3"
[sink.settings]
bucket = %q
endpoint = %q
region = "us-east-1"
access_key_id = %q
secret_access_key = %q
prefix = %q
`, pluginDir, filepath.Join(dir, "spool"), srv.Bucket, srv.Endpoint, srv.Access, srv.Secret, prefix)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	const n = 35
	drawn, stats := recordMovingScene(t, "s3test", cfg, n)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := srv.Client(ctx)
	sessionPrefix := prefix + "s3test/tester/sessions/" + stats.Sessions[0] + "/"
	var keys []string
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(srv.Bucket), Prefix: aws.String(sessionPrefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if len(keys) != 5 || keys[0] != sessionPrefix+"00000000.seg" || keys[4] != segment.ManifestKey(sessionPrefix) {
		t.Fatalf("keys %v, want 4 segments (35 frames, 10 per segment) and the manifest under %s", keys, sessionPrefix)
	}
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(keys[4])})
	if err != nil {
		t.Fatal(err)
	}
	mdata, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if m, err := segment.ParseManifest(mdata); err != nil || m.Segments != 4 || m.Frames != n || m.Sequenced != n {
		t.Fatalf("manifest %+v, %v: want 4 segments, %d frames", m, err, n)
	}
	next := uint64(0)
	for _, k := range keys[:4] {
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		data, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		fs, err := segment.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, f := range fs {
			if f.Seq != next {
				t.Fatalf("%s: frame seq %d, want %d", k, f.Seq, next)
			}
			if f.Seq >= n {
				t.Fatalf("%s: frame seq %d beyond the %d drawn", k, f.Seq, n)
			}
			if got := sha256.Sum256(f.Image.Pix); got != drawn[f.Seq] {
				t.Fatalf("%s: frame %d differs from what was drawn", k, f.Seq)
			}
			next++
		}
	}
	if next != n {
		t.Fatalf("%d frames in the bucket, want %d", next, n)
	}
}

// recordMovingScene runs a game named name with the config at cfg for n
// frames of a scene that moves every frame and returns the SHA-256 of
// each frame as drawn, after checking that they all differ (else a
// comparison with them proves little) and that one session was recorded.
func recordMovingScene(t *testing.T, name, cfg string, n int) ([][32]byte, FrameStats) {
	t.Helper()
	const w, h = 80, 60
	var drawn [][32]byte
	frame := 0
	g := &sceneGame{w: w, h: h}
	g.draw = func(c *gfx.Canvas) {
		c.Clear(bg)
		c.FillRect(float64(frame%(w-10)), 10, 10, 20, yellow) // moves every frame
		c.FillRect(0, float64(frame%(h-5)), 5, 5, red)
		frame++
		img, err := c.ReadPixels()
		if err != nil {
			g.err = err
			return
		}
		drawn = append(drawn, sha256.Sum256(img.Pix))
	}
	var stats FrameStats
	if err := Run(g, Options{Name: name, Width: w, Height: h, MaxFrames: n, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Stats: &stats}); err != nil {
		t.Fatal(err)
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	if len(drawn) != n {
		t.Fatalf("%d frames drawn, want %d", len(drawn), n)
	}
	distinct := map[[32]byte]bool{}
	for _, d := range drawn {
		distinct[d] = true
	}
	if len(distinct) != n {
		t.Fatalf("only %d of %d drawn frames differ: the check below would prove little", len(distinct), n)
	}
	if len(stats.Sessions) != 1 {
		t.Fatalf("sessions %v", stats.Sessions)
	}
	return drawn, stats
}

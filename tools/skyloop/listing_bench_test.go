package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
)

// countingSink counts the requests a listing makes of a sink.
type countingSink struct {
	recordings.Store
	lists, gets atomic.Int64
}

func (c *countingSink) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, fn)
}

func (c *countingSink) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key, w, opts)
}

// putEndedSessions stores n ended sessions of 3 segments (5 frames of
// 64x48) with end records carrying their Stored summary, and one
// catalog listing them, as the engine writes them; it returns the
// catalog's key.
func putEndedSessions(tb testing.TB, st sdk.Backend, n int) string {
	tb.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pix := make([]byte, 64*48*4)
	put := func(key string, b []byte) {
		if _, err := st.Put(ctx, key, bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))}); err != nil {
			tb.Fatal(err)
		}
	}
	var entries []segment.CatalogEntry
	for i := range n {
		start := t0.Add(time.Duration(i) * time.Hour)
		id := segment.NewSessionID(start)
		prefix := segment.SessionPrefix("bench", "tester", id)
		stored := &segment.Stored{FirstFrame: start, LastFrame: start.Add(4 * time.Second / 60), LastSeq: 4, Frames: 5, Segments: 3}
		var sizes []segment.SegmentSize
		for s, seqs := range [][]uint64{{0, 1}, {2, 3}, {4}} {
			var buf bytes.Buffer
			w, err := segment.NewWriter(&buf, segment.Header{Width: 64, Height: 48, Codec: segment.CodecZstd, KeyInterval: 60, Segment: uint64(s), FirstSeq: seqs[0], SessionStart: start})
			if err != nil {
				tb.Fatal(err)
			}
			for _, q := range seqs {
				pix[0] = byte(q)
				if err := w.WriteFrame(q, start.Add(time.Duration(q)*time.Second/60), pix); err != nil {
					tb.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				tb.Fatal(err)
			}
			put(segment.Key(prefix, uint64(s)), buf.Bytes())
			sizes = append(sizes, segment.SegmentSize{Index: uint64(s), Size: int64(buf.Len())})
			stored.Bytes += int64(buf.Len())
		}
		stored.Digest = segment.SegmentsDigest(sizes)
		m := segment.Manifest{Game: "bench", Player: "tester", Session: id, Start: start, End: start.Add(time.Second),
			Width: 64, Height: 48, Segments: 3, Sequenced: 5, Frames: 5, Stored: stored}
		b, err := segment.MarshalManifest(m)
		if err != nil {
			tb.Fatal(err)
		}
		put(segment.ManifestKey(prefix), b)
		m.Version = segment.ManifestVersion
		entries = append(entries, segment.CatalogEntry{Manifest: m, ManifestSize: int64(len(b))})
	}
	b, err := segment.MarshalCatalog(segment.Catalog{Game: "bench", Player: "tester", Device: "bench", Updated: t0, Sessions: entries})
	if err != nil {
		tb.Fatal(err)
	}
	key := segment.CatalogKey("bench", "tester", "bench")
	put(key, b)
	return key
}

// BenchmarkListing measures `skyloop sessions` over 1,000 ended sessions
// of 3 segments each, through the real disk plugin and the S3 plugin
// against versitygw: with the player's catalog (as the engine writes it),
// with end records only (the catalog deleted), and reading every segment
// (end records without their Stored summary: what an older engine wrote,
// and what every listing cost before the catalog). It reports the time of
// one listing and the requests it made.
func BenchmarkListing(b *testing.B) {
	const n = 1000
	for _, sink := range []string{"disk", "s3"} {
		b.Run(sink, func(b *testing.B) {
			bin := liveBinaries(b)
			dir := b.TempDir()
			settings := map[string]string{"root": filepath.Join(dir, "sink")}
			if sink == "s3" {
				srv := enginetest.StartS3Server(b)
				settings = map[string]string{"bucket": srv.Bucket, "endpoint": srv.Endpoint, "region": "us-east-1",
					"access_key_id": srv.Access, "secret_access_key": srv.Secret}
			}
			ctx := context.Background()
			c, err := sdk.Launch(ctx, sdk.LaunchOptions{Path: filepath.Join(bin, "skyloop-plugin-"+sink), Settings: settings, Stderr: os.Stderr})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			catalog := putEndedSessions(b, c, n)
			listing := func(b *testing.B, name string) {
				b.Run(name, func(b *testing.B) {
					cs := &countingSink{Store: c}
					for b.Loop() {
						ss, err := recordings.List(ctx, cs, sink, "")
						if err != nil {
							b.Fatal(err)
						}
						rows, err := describeStore(ctx, cs, sink, ss, time.Now())
						if err != nil || len(rows) != n {
							b.Fatalf("%d rows, %v", len(rows), err)
						}
					}
					b.ReportMetric(float64(cs.lists.Load())/float64(b.N), "lists/op")
					b.ReportMetric(float64(cs.gets.Load())/float64(b.N), "gets/op")
				})
			}
			listing(b, "catalog")
			if err := c.Delete(ctx, catalog); err != nil {
				b.Fatal(err)
			}
			listing(b, "end-records")
			// Strip the Stored summaries: every segment is read.
			var keys []string
			c.List(ctx, "bench/", func(o sdk.ObjectInfo) error {
				if _, ok := segment.ParseManifestKey(o.Key); ok {
					keys = append(keys, o.Key)
				}
				return nil
			})
			for _, k := range keys {
				var buf bytes.Buffer
				if _, err := c.Get(ctx, k, &buf, sdk.GetOptions{}); err != nil {
					b.Fatal(err)
				}
				m, err := segment.ParseManifest(buf.Bytes())
				if err != nil {
					b.Fatal(err)
				}
				m.Stored = nil
				data, _ := segment.MarshalManifest(m)
				if _, err := c.Put(ctx, k, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))}); err != nil {
					b.Fatal(err)
				}
			}
			listing(b, "segments")
		})
	}
}

// BenchmarkSegmentInterval measures what closing segments sooner, for
// live sharing, costs: stored bytes and PUT requests per minute of
// recording, per capture.segment_seconds, for breakout and arena playing
// themselves at up to 60 fps (1280x720 window) into the disk plugin. Each
// run records 20 s; b.N is ignored (run with -benchtime 1x).
func BenchmarkSegmentInterval(b *testing.B) {
	enginetest.RequireDisplay(b)
	bin := liveBinaries(b)
	for _, game := range []string{"breakout", "arena"} {
		for _, seg := range []float64{2, 1, 0.5, 0.25} {
			b.Run(fmt.Sprintf("%s/segment=%gs", game, seg), func(b *testing.B) {
				dir := b.TempDir()
				root := filepath.Join(dir, "sink")
				cfg := filepath.Join(dir, "cfg.toml")
				doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = 60\n[capture]\nsegment_seconds = %g\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
					bin, filepath.Join(dir, "spool"), seg, root)
				if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
					b.Fatal(err)
				}
				out, err := exec.Command(filepath.Join(bin, game), "-autoplay", "-fps", "60", "-vsync=false", "-frames", "1200", "-config", cfg).CombinedOutput()
				if err != nil {
					b.Fatalf("%s: %v\n%s", game, err, out)
				}
				segs, _ := filepath.Glob(filepath.Join(root, game, "tester", "sessions", "*", "*.seg"))
				mans, _ := filepath.Glob(filepath.Join(root, game, "tester", "sessions", "*", "session.json"))
				if len(mans) != 1 {
					b.Fatalf("%d end records", len(mans))
				}
				data, err := os.ReadFile(mans[0])
				if err != nil {
					b.Fatal(err)
				}
				m, err := segment.ParseManifest(data)
				if err != nil || m.Stored == nil {
					b.Fatalf("end record: %v", err)
				}
				minutes := m.Stored.LastFrame.Sub(m.Stored.FirstFrame).Minutes()
				// A session's PUTs: its segments, its end record and the catalog.
				b.ReportMetric(float64(m.Stored.Bytes)/minutes/(1<<20), "MiB/min")
				b.ReportMetric(float64(len(segs))/minutes, "segment-PUTs/min")
				b.ReportMetric(float64(m.Stored.Bytes)/float64(m.Stored.Frames)/1024, "KiB/frame")
				b.ReportMetric(float64(m.Stored.Frames)/minutes/60, "fps")
			})
		}
	}
}

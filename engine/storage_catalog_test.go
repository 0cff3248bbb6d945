package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
)

// The catalog as the engine writes it, recorded through the spool to the
// real disk plugin and read back through the plugin as the tools read.

// catalogDevice is the [saves] device the tests configure; its catalog
// key's DEVICE is "test-rig-1".
const catalogDevice = "Test Rig 1"

func catalogConfig(t *testing.T, dir, pluginDir, root string, exitWait float64) string {
	t.Helper()
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = %g\n[capture]\nsegment_frames = 10\ndrop = \"block\"\n[saves]\ndevice = %q\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		pluginDir, filepath.Join(dir, "spool"), exitWait, catalogDevice, root)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// togglingGame draws a moving scene and stops recording in tick 14,
// starting it again in tick 18: two sessions in one run.
type togglingGame struct{ sceneGame }

func (g *togglingGame) Update(in *input.State) error {
	switch g.ticks {
	case 13:
		SetRecording(false)
	case 17:
		SetRecording(true)
	}
	return g.sceneGame.Update(in)
}

func movingDraw() func(c *gfx.Canvas) {
	frame := 0
	return func(c *gfx.Canvas) {
		c.Clear(bg)
		c.FillRect(float64(frame%54), 10, 10, 20, yellow)
		frame++
	}
}

func checkSink(t *testing.T, pluginDir, root string) *skysync.Sink {
	t.Helper()
	sink, err := skysync.Start(context.Background(), skysync.SinkConfig{Name: "check", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": root}}, skysync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return sink
}

func getObject(t *testing.T, sink *skysync.Sink, key string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := sink.Get(context.Background(), key, &buf, sdk.GetOptions{Length: -1}); err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return buf.Bytes()
}

// checkCatalogInSink checks GAME/tester/catalog/test-rig-1.json in the
// sink: it lists exactly the sessions want; each entry's end record
// re-marshals to the stored session.json and ManifestSize is its listed
// size; Stored's segments, bytes and digest are what the listing shows
// (recomputed here), its frames, seqs and times what decoding the listed
// segments shows. It returns the catalog's bytes and entries.
func checkCatalogInSink(t *testing.T, sink *skysync.Sink, game string, want []string) ([]byte, []segment.CatalogEntry) {
	t.Helper()
	ctx := context.Background()
	key := game + "/tester/catalog/test-rig-1.json"
	raw := getObject(t, sink, key)
	cat, err := segment.ParseCatalog(raw)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var ids []string
	for _, e := range cat.Sessions {
		ids = append(ids, e.Manifest.Session)
	}
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(ids, want) || cat.Game != game || cat.Player != "tester" || cat.Device != "test-rig-1" {
		t.Fatalf("catalog %s/%s/%s lists %v, want %v", cat.Game, cat.Player, cat.Device, ids, want)
	}
	for _, e := range cat.Sessions {
		m := e.Manifest
		prefix := segment.SessionPrefix(game, "tester", m.Session)
		var segs []segment.SegmentSize
		manifestListed := int64(-1)
		if err := sink.List(ctx, prefix, func(o sdk.ObjectInfo) error {
			if k, ok := segment.ParseKey(o.Key); ok {
				segs = append(segs, segment.SegmentSize{Index: k.Index, Size: o.Size})
			} else if o.Key == segment.ManifestKey(prefix) {
				manifestListed = o.Size
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(segs, func(a, b segment.SegmentSize) int { return int(a.Index) - int(b.Index) })
		stored := getObject(t, sink, segment.ManifestKey(prefix))
		again, err := segment.MarshalManifest(m)
		if err != nil || !bytes.Equal(again, stored) {
			t.Fatalf("session %s: the catalog's end record re-marshals to\n%s\nthe sink's session.json is\n%s", m.Session, again, stored)
		}
		if e.ManifestSize != int64(len(stored)) || e.ManifestSize != manifestListed {
			t.Fatalf("session %s: ManifestSize %d, session.json is %d bytes, listed as %d", m.Session, e.ManifestSize, len(stored), manifestListed)
		}
		st := m.Stored
		var n uint64
		var b int64
		var frames []segment.Frame
		for _, s := range segs {
			n++
			b += s.Size
			fs, err := segment.Decode(getObject(t, sink, segment.Key(prefix, s.Index)))
			if err != nil {
				t.Fatalf("session %s segment %d: %v", m.Session, s.Index, err)
			}
			frames = append(frames, fs...)
		}
		if st.Segments != n || st.Bytes != b || st.Digest != segment.SegmentsDigest(segs) {
			t.Fatalf("session %s: stored %d segments, %d bytes, digest %s; the listing shows %d, %d, digest %s",
				m.Session, st.Segments, st.Bytes, st.Digest, n, b, segment.SegmentsDigest(segs))
		}
		if st.Segments+uint64(len(m.Lost)) != m.Segments {
			t.Fatalf("session %s: %d stored + %d lost of %d segments", m.Session, st.Segments, len(m.Lost), m.Segments)
		}
		if len(frames) == 0 {
			t.Fatalf("session %s: no frames in the sink", m.Session)
		}
		first, last := frames[0], frames[len(frames)-1]
		if st.Frames != uint64(len(frames)) || st.FirstSeq != first.Seq || st.LastSeq != last.Seq ||
			!st.FirstFrame.Equal(first.Time) || !st.LastFrame.Equal(last.Time) {
			t.Fatalf("session %s: stored %d frames, seq %d-%d, %v..%v; the segments hold %d, seq %d-%d, %v..%v", m.Session,
				st.Frames, st.FirstSeq, st.LastSeq, st.FirstFrame, st.LastFrame, len(frames), first.Seq, last.Seq, first.Time, last.Time)
		}
	}
	return raw, cat.Sessions
}

// Run 1 records two sessions, run 2 one while the sink is down, run 3
// one more with the sink back: after run 1 the sink's catalog lists run
// 1's two sessions, after run 3 all four — the local catalog carries
// the earlier runs' sessions, and the spool delivers the catalog of the
// session that ended while the sink was down.
func TestCatalogListsEndedSessions(t *testing.T) {
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "disk")
	root := filepath.Join(dir, "sink")
	t.Cleanup(func() { enginetest.SetWritable(root, true) })
	run := func(g Game, frames int, exitWait float64) FrameStats {
		t.Helper()
		cfg := catalogConfig(t, dir, pluginDir, root, exitWait)
		var stats FrameStats
		if err := Run(g, Options{Name: "catalog", Width: 64, Height: 48, MaxFrames: frames, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Stats: &stats}); err != nil {
			t.Fatal(err)
		}
		return stats
	}

	first := run(&togglingGame{sceneGame{w: 64, h: 48, draw: movingDraw()}}, 40, 20)
	if len(first.Sessions) != 2 {
		t.Fatalf("run 1: sessions %v, want 2", first.Sessions)
	}
	checkCatalogInSink(t, checkSink(t, pluginDir, root), "catalog", first.Sessions)

	down := &lockGame{sceneGame: sceneGame{w: 64, h: 48, draw: movingDraw()}, root: root}
	second := run(down, 25, 0.3)
	if down.err != nil {
		t.Fatal(down.err)
	}
	if err := enginetest.SetWritable(root, true); err != nil {
		t.Fatal(err)
	}
	third := run(&sceneGame{w: 64, h: 48, draw: movingDraw()}, 15, 20)
	all := slices.Concat(first.Sessions, second.Sessions, third.Sessions)
	if len(all) != 4 {
		t.Fatalf("sessions %v, want 4", all)
	}
	raw, _ := checkCatalogInSink(t, checkSink(t, pluginDir, root), "catalog", all)
	local := filepath.Join(dir, "spool", "catalog", "catalog", "tester", "test-rig-1.json")
	if l, err := os.ReadFile(local); err != nil || !bytes.Equal(l, raw) {
		t.Fatalf("local catalog %s (%v) differs from the sink's", local, err)
	}
	t.Logf("catalog of %d sessions: %d bytes", len(all), len(raw))
}

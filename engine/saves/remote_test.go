package saves_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/saves"
	"github.com/skyloop-engine/skyloop/engine/spool"
	"github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
)

// These tests run saves over the real components, wired as the engine
// wires them (engine/savedata.go): every "device" is a saves.Store with
// its own directory; its Upload is Accept into its own spool as a
// spool.KindSave item; the spool delivers to engine/sync Sinks (plugin
// processes: plugins/disk on a shared root, or plugins/s3 against a real
// versitygw on loopback), and the same Sinks are the store's Remotes.

const (
	game   = "g"
	player = "p"
)

// gameSave is a save struct as a game writes it.
type gameSave struct {
	HighScore saves.Best
	Coins     saves.Counter
	Achieved  saves.Unlocks
	Name      saves.Value[string]
	Level     int
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// versionKey is where a version is stored in every sink (docs/saves.md).
func versionKey(slot, id string) string { return saves.Prefix(game, player) + slot + "/" + id + ".sav" }

var errCut = errors.New("device offline: its sink's plugin is stopped")

// link is one device's connection to one sink: a real engine/sync Sink (a
// plugin process of its own), used by the device's spool as a spool.Sink
// and by its store as a saves.Remote. It counts the requests that reach
// the plugin; cut stops the plugin process (the device is offline: every
// call fails as retryable, as a sink that is down does) and connect
// starts a new one. With refuseConditional it is a backend without
// conditional writes: a Put with IfMatch or IfNoneMatch is refused.
type link struct {
	cfg               sync.SinkConfig
	refuseConditional bool

	callMu gosync.RWMutex // held by calls; cut waits for them
	sink   *sync.Sink     // nil while cut

	mu                                gosync.Mutex
	lists, gets, puts, deletes, conds int
	gotKeys                           []string
}

func newLink(t testing.TB, cfg sync.SinkConfig) *link {
	t.Helper()
	l := &link{cfg: cfg}
	l.connect(t)
	t.Cleanup(l.cut)
	return l
}

func (l *link) connect(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sync.Start(ctx, l.cfg, sync.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: quiet(), Stderr: io.Discard})
	if err != nil {
		t.Fatalf("starting sink %s: %v", l.cfg.Name, err)
	}
	l.callMu.Lock()
	old := l.sink
	l.sink = s
	l.callMu.Unlock()
	if old != nil {
		old.Close()
	}
}

// cut stops the plugin process; calls in flight finish first.
func (l *link) cut() {
	l.callMu.Lock()
	s := l.sink
	l.sink = nil
	l.callMu.Unlock()
	if s != nil {
		s.Close()
	}
}

// call runs fn on the live sink, or fails as retryable while cut.
func (l *link) call(op, key string, fn func(*sync.Sink) error) error {
	l.callMu.RLock()
	defer l.callMu.RUnlock()
	if l.sink == nil {
		return sdk.RetryableError(op, key, errCut)
	}
	return fn(l.sink)
}

func (l *link) Name() string { return l.cfg.Name }

func (l *link) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if opts.IfMatch != "" || opts.IfNoneMatch {
		l.mu.Lock()
		l.conds++
		refuse := l.refuseConditional
		l.mu.Unlock()
		if refuse {
			return sdk.ObjectInfo{}, sdk.PermanentError("put", key, fmt.Errorf("%w: this backend has no conditional writes (If-Match %q, If-None-Match %v)", sdk.ErrUnsupported, opts.IfMatch, opts.IfNoneMatch))
		}
	}
	var info sdk.ObjectInfo
	err := l.call("put", key, func(s *sync.Sink) error {
		l.mu.Lock()
		l.puts++
		l.mu.Unlock()
		var err error
		info, err = s.Put(ctx, key, r, opts)
		return err
	})
	return info, err
}

func (l *link) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	return l.call("list", prefix, func(s *sync.Sink) error {
		l.mu.Lock()
		l.lists++
		l.mu.Unlock()
		return s.List(ctx, prefix, fn)
	})
}

func (l *link) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	var info sdk.ObjectInfo
	err := l.call("get", key, func(s *sync.Sink) error {
		l.mu.Lock()
		l.gets++
		l.gotKeys = append(l.gotKeys, key)
		l.mu.Unlock()
		var err error
		info, err = s.Get(ctx, key, w, opts)
		return err
	})
	return info, err
}

func (l *link) Delete(ctx context.Context, key string) error {
	return l.call("delete", key, func(s *sync.Sink) error {
		l.mu.Lock()
		l.deletes++
		l.mu.Unlock()
		return s.Delete(ctx, key)
	})
}

// counts returns lists, gets, puts and deletes so far.
func (l *link) counts() (lists, gets, puts, deletes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lists, l.gets, l.puts, l.deletes
}

// backend is one shared store that devices connect to.
type backend struct {
	name string
	// cfg is a sink config for it (each link gets its own plugin process).
	cfg sync.SinkConfig
	// down and up take every device off the store and bring them back.
	down func(t testing.TB, links ...*link)
	up   func(t testing.TB, links ...*link)

	observer *link // a link of the test's own, for reading the store
}

func (b *backend) newLink(t testing.TB) *link { return newLink(t, b.cfg) }

// keys lists the objects under the player's saves prefix, with sizes.
func (b *backend) keys(t testing.TB) map[string]int64 {
	t.Helper()
	if b.observer == nil {
		b.observer = newLink(t, b.cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]int64{}
	var sink *sync.Sink
	b.observer.callMu.RLock()
	sink = b.observer.sink
	b.observer.callMu.RUnlock()
	if err := sink.List(ctx, saves.Prefix(game, player), func(o sdk.ObjectInfo) error { out[o.Key] = o.Size; return nil }); err != nil {
		t.Fatalf("listing %s: %v", b.name, err)
	}
	return out
}

func diskBackend(t testing.TB) *backend {
	plugins := enginetest.BuildPlugin(t, "disk")
	return &backend{
		name: "disk",
		cfg:  sync.SinkConfig{Name: "local", Plugin: "disk", Dirs: []string{plugins}, Settings: map[string]string{"root": t.TempDir()}},
		down: func(t testing.TB, links ...*link) {
			for _, l := range links {
				l.cut()
			}
		},
		up: func(t testing.TB, links ...*link) {
			for _, l := range links {
				l.connect(t)
			}
		},
	}
}

func s3Backend(t testing.TB) *backend {
	srv := enginetest.StartS3Server(t)
	plugins := enginetest.BuildPlugin(t, "s3")
	return &backend{
		name: "s3",
		cfg: sync.SinkConfig{Name: "cloud", Plugin: "s3", Dirs: []string{plugins}, Settings: map[string]string{
			"bucket":            srv.Bucket,
			"endpoint":          srv.Endpoint,
			"region":            "us-east-1",
			"access_key_id":     srv.Access,
			"secret_access_key": srv.Secret,
			"prefix":            "saves-test/",
		}},
		down: func(testing.TB, ...*link) { srv.Stop() },
		up:   func(t testing.TB, _ ...*link) { srv.Restart(t) },
	}
}

// forEachBackend runs f once over the disk plugin and once over S3.
func forEachBackend(t *testing.T, f func(t *testing.T, be *backend)) {
	for _, mk := range []struct {
		name string
		new  func(testing.TB) *backend
	}{{"disk", diskBackend}, {"s3", s3Backend}} {
		t.Run(mk.name, func(t *testing.T) { f(t, mk.new(t)) })
	}
}

// device is one engine instance's saves: a store in its own directory
// uploading through its own spool.
type device struct {
	name  string
	links []*link
	sp    *spool.Spool
	opts  saves.Options
	store *saves.Store
}

func openDevice(t testing.TB, name string, links []*link, mod func(*saves.Options)) *device {
	t.Helper()
	d := &device{name: name, links: links}
	sinks := make([]spool.Sink, len(links))
	remotes := make([]saves.Remote, len(links))
	for i, l := range links {
		sinks[i], remotes[i] = l, l
	}
	sp, err := spool.Open(t.TempDir(), sinks, spool.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, AttemptTimeout: 20 * time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := sp.Close(ctx); err != nil {
			t.Errorf("%s: closing the spool: %v", name, err)
		}
	})
	d.sp = sp
	d.opts = saves.Options{
		Dir: t.TempDir(), Game: game, Player: player, DeviceName: name, Remotes: remotes, Poll: -1, Logger: quiet(),
		Upload: func(ctx context.Context, key string, data []byte) error {
			return sp.Accept(ctx, spool.Item{Key: key, Kind: spool.KindSave, Data: data})
		},
	}
	if mod != nil {
		mod(&d.opts)
	}
	d.open(t)
	return d
}

func (d *device) open(t testing.TB) {
	t.Helper()
	s, err := saves.Open(d.opts)
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	d.store = s
	t.Cleanup(func() { s.Close() })
}

func (d *device) save(t testing.TB, slot string, v any, meta saves.Meta) saves.Version {
	t.Helper()
	ver, err := d.store.Save(slot, v, meta)
	if err != nil {
		t.Fatalf("%s: Save %s: %v", d.name, slot, err)
	}
	return ver
}

func (d *device) load(t testing.TB, slot string) (gameSave, saves.Version) {
	t.Helper()
	var p gameSave
	v, err := d.store.Load(slot, &p)
	if err != nil {
		t.Fatalf("%s: Load %s: %v", d.name, slot, err)
	}
	return p, v
}

// flush waits until every Save is in the spool.
func (d *device) flush(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := d.store.Flush(ctx); err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
}

// delivered waits until every Save so far is stored in every sink.
func (d *device) delivered(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	d.flush(t, timeout)
	waitFor(t, deadline, func() bool {
		for _, st := range d.sp.Stats().Sinks {
			if st.Parked > 0 {
				t.Fatalf("%s: saves parked by the spool (a version would never reach the sink): %+v", d.name, d.sp.Failed())
			}
			if st.Pending > 0 {
				return false
			}
		}
		return true
	}, "%s: spool still delivering: %+v", d.name, d.sp.Stats().Sinks)
}

// sync polls the remotes once (for devices opened with Poll -1).
func (d *device) sync(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.store.Sync(ctx); err != nil {
		t.Fatalf("%s: Sync: %v", d.name, err)
	}
}

// heads lists slot's current versions (more than one: a conflict).
func (d *device) heads(slot string) []saves.Version {
	var out []saves.Version
	for _, v := range d.store.History(slot) {
		if v.Head {
			out = append(out, v)
		}
	}
	return out
}

func waitFor(t testing.TB, deadline time.Time, cond func() bool, format string, args ...any) {
	t.Helper()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: "+format, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitChange waits (until deadline) on s.Changes() for a change of slot
// to version id (any version when id is ""; a conflict when conflict).
func waitChange(t testing.TB, s *saves.Store, slot, id string, conflict bool, deadline time.Time) saves.Change {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var seen []saves.Change
	for {
		select {
		case <-s.Changes():
		case <-timer.C:
			t.Fatalf("no change of %s to %q (conflict %v) by the deadline; changes seen: %+v", slot, id, conflict, seen)
		}
		for _, c := range s.TakeChanges() {
			seen = append(seen, c)
			if c.Slot == slot && (conflict && c.Conflict != nil || !conflict && c.Conflict == nil && (id == "" || c.Version == id)) {
				return c
			}
		}
	}
}

// converged waits until every device has one current version of slot,
// the same one, and returns its id.
func converged(t testing.TB, slot string, deadline time.Time, devs ...*device) string {
	t.Helper()
	var id string
	waitFor(t, deadline, func() bool {
		id = ""
		for _, d := range devs {
			h := d.heads(slot)
			if len(h) != 1 || id != "" && h[0].ID != id {
				return false
			}
			id = h[0].ID
		}
		return true
	}, "devices did not converge on %s: %s", slot, describeHeads(slot, devs))
	return id
}

func describeHeads(slot string, devs []*device) string {
	var b strings.Builder
	for _, d := range devs {
		fmt.Fprintf(&b, "%s heads:", d.name)
		for _, h := range d.heads(slot) {
			fmt.Fprintf(&b, " %s(%s)", h.ID, h.Made)
		}
		b.WriteString("; ")
	}
	return b.String()
}

// A write on A is read on B within one poll interval, both ways, with the
// background pollers on, over the disk plugin and over S3.
func TestRemoteWriteOnAReadOnB(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		const poll = 200 * time.Millisecond
		withPoll := func(o *saves.Options) { o.Poll = poll }
		a := openDevice(t, "a", []*link{be.newLink(t)}, withPoll)
		b := openDevice(t, "b", []*link{be.newLink(t)}, withPoll)
		writer, reader := a, b
		for round := 0; round < 4; round++ {
			var p gameSave
			if round > 0 {
				p, _ = writer.load(t, "progress")
			}
			p.HighScore.Offer(int64(100 * (round + 1)))
			p.Coins.Add(1)
			p.Name.Set(fmt.Sprintf("round %d by %s", round, writer.name))
			p.Level = round
			start := time.Now()
			v := writer.save(t, "progress", &p, saves.Meta{Description: fmt.Sprintf("round %d", round), Progress: float64(round)})
			writer.delivered(t, 20*time.Second)
			inSink := time.Now()
			// A deadline of a few intervals once the version is in the
			// sink (the poll after it, plus its List and one Get).
			waitChange(t, reader.store, "progress", v.ID, false, inSink.Add(10*poll))
			t.Logf("%s round %d: %s → %s: in the sink after %v, read after %v (%.1f poll intervals after it was in the sink)",
				be.name, round, writer.name, reader.name, inSink.Sub(start).Round(time.Millisecond), time.Since(start).Round(time.Millisecond), float64(time.Since(inSink))/float64(poll))
			got, meta := reader.load(t, "progress")
			if meta.ID != v.ID || got.HighScore.Value() != int64(100*(round+1)) || got.Coins.Value() != int64(round+1) ||
				got.Name.Get() != p.Name.Get() || got.Level != round || meta.Description != fmt.Sprintf("round %d", round) || meta.Device != writer.name {
				t.Fatalf("%s read %+v (meta %+v), want %s's round %d (coins %d)", reader.name, got, meta, writer.name, round, round+1)
			}
			writer, reader = reader, writer
		}
		for _, d := range []*device{a, b} {
			for _, v := range d.store.History("progress") {
				if v.Made != "save" {
					t.Errorf("%s made %s version %s where every write built on the last", d.name, v.Made, v.ID)
				}
			}
		}
	})
}

// offlineRound takes both devices offline, lets each write, and brings
// them back. Both first agree on a base version.
func offlineRound(t *testing.T, be *backend, a, b *device, writeA, writeB func()) {
	t.Helper()
	be.down(t, append(slices.Clone(a.links), b.links...)...)
	writeA()
	time.Sleep(5 * time.Millisecond) // B's write is later by the clock
	writeB()
	a.flush(t, 10*time.Second)
	b.flush(t, 10*time.Second)
	// Offline, the polls fail and nothing crosses over.
	time.Sleep(3 * a.opts.Poll)
	for _, d := range []*device{a, b} {
		if h := d.heads("progress"); len(h) != 1 || h[0].DeviceID != mustDevice(d) {
			t.Fatalf("%s offline: heads %+v, want only its own write", d.name, h)
		}
		for _, st := range d.sp.Stats().Sinks {
			if st.Pending == 0 {
				t.Fatalf("%s offline, yet its spool has nothing pending: %+v", d.name, st)
			}
		}
	}
	be.up(t, append(slices.Clone(a.links), b.links...)...)
}

func mustDevice(d *device) string { id, _ := d.store.Device(); return id }

// Both devices offline (plugin processes stopped, or the S3 server
// killed), both write, reconnect: the background pollers merge by rule on
// both devices to one version — counters exact, the best score kept,
// unlocks unioned with the earliest time, the later Value — and every
// version either wrote is on the backend.
func TestRemoteOfflineWritesMerge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		withPoll := func(o *saves.Options) { o.Poll = 200 * time.Millisecond }
		a := openDevice(t, "a", []*link{be.newLink(t)}, withPoll)
		b := openDevice(t, "b", []*link{be.newLink(t)}, withPoll)
		var base gameSave
		base.Coins.Add(1)
		base.HighScore.Offer(10)
		base.Achieved.Unlock("start")
		base.Name.Set("base")
		vBase := a.save(t, "progress", &base, saves.Meta{})
		a.delivered(t, 20*time.Second)
		waitChange(t, b.store, "progress", vBase.ID, false, time.Now().Add(10*time.Second))

		var written []string
		var bothAt time.Time
		offlineRound(t, be, a, b, func() {
			pa, _ := a.load(t, "progress")
			pa.Coins.Add(5)
			pa.HighScore.Offer(500)
			pa.Achieved.Unlock("a-only")
			pa.Achieved.Unlock("both")
			bothAt = pa.Achieved.When("both")
			pa.Name.Set("a's name")
			written = append(written, a.save(t, "progress", &pa, saves.Meta{Progress: 0.5}).ID)
			pa.Coins.Add(2) // a second offline save on top of the first
			written = append(written, a.save(t, "progress", &pa, saves.Meta{Progress: 0.6}).ID)
		}, func() {
			time.Sleep(2 * time.Millisecond) // B's unlock of "both" is later
			pb, _ := b.load(t, "progress")
			pb.Coins.Add(3)
			pb.HighScore.Offer(300)
			pb.Achieved.Unlock("b-only")
			pb.Achieved.Unlock("both")
			pb.Name.Set("b's name, written last")
			written = append(written, b.save(t, "progress", &pb, saves.Meta{Progress: 0.4}).ID)
		})
		id := converged(t, "progress", time.Now().Add(30*time.Second), a, b)
		for _, d := range []*device{a, b} {
			got, meta := d.load(t, "progress")
			if got.Coins.Value() != 11 || got.HighScore.Value() != 500 || strings.Join(got.Achieved.Names(), ",") != "a-only,b-only,both,start" ||
				got.Name.Get() != "b's name, written last" || got.Level != 0 {
				t.Errorf("%s merged to coins %d (want 1+5+2+3 = 11), best %d (want 500), unlocks %v, name %q",
					d.name, got.Coins.Value(), got.HighScore.Value(), got.Achieved.Names(), got.Name.Get())
			}
			if !got.Achieved.When("both").Equal(bothAt) {
				t.Errorf("%s: \"both\" unlocked at %v, want A's earlier %v", d.name, got.Achieved.When("both"), bothAt)
			}
			if meta.ID != id || meta.Made != "merge" || len(meta.Parents) != 2 || len(meta.Conflicts) != 0 || meta.Progress != 0.6 {
				t.Errorf("%s's current version %+v: want the merge of the two heads, no conflicts, progress 0.6", d.name, meta)
			}
			for _, st := range d.sp.Stats().Sinks {
				if st.Parked != 0 || st.Failed != 0 {
					t.Errorf("%s: spool parked saves: %+v", d.name, d.sp.Failed())
				}
			}
		}
		a.delivered(t, 20*time.Second)
		b.delivered(t, 20*time.Second)
		keys := be.keys(t)
		for _, v := range append(written, vBase.ID, id) {
			if _, ok := keys[versionKey("progress", v)]; !ok {
				t.Errorf("version %s is not on the %s backend: %v", v, be.name, keys)
			}
		}
		// Quiescent: more polls make no new version (no merge loop).
		time.Sleep(5 * a.opts.Poll)
		if n := len(be.keys(t)); n != len(keys) {
			t.Errorf("polls after convergence wrote %d more objects: merges loop", n-len(keys))
		}
		if h := converged(t, "progress", time.Now(), a, b); h != id {
			t.Errorf("current version moved from %s to %s with nothing written", id, h)
		}
	})
}

// With Policy Manual a plain value both devices changed offline is a
// conflict: both versions are kept, both devices list it with both
// versions, each reads its own side, and no merge is written. Resolving
// on B ends it on both, with the typed fields of both sides joined.
func TestRemoteManualKeepsBoth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		manual := func(o *saves.Options) { o.Poll = 200 * time.Millisecond; o.Policy = saves.Manual }
		a := openDevice(t, "a", []*link{be.newLink(t)}, manual)
		b := openDevice(t, "b", []*link{be.newLink(t)}, manual)
		var base gameSave
		base.Coins.Add(1)
		base.Level = 1
		vBase := a.save(t, "progress", &base, saves.Meta{})
		a.delivered(t, 20*time.Second)
		waitChange(t, b.store, "progress", vBase.ID, false, time.Now().Add(10*time.Second))

		var va, vb saves.Version
		offlineRound(t, be, a, b, func() {
			pa, _ := a.load(t, "progress")
			pa.Level = 2
			pa.Coins.Add(5)
			va = a.save(t, "progress", &pa, saves.Meta{Description: "a: level 2"})
		}, func() {
			pb, _ := b.load(t, "progress")
			pb.Level = 3
			pb.Coins.Add(3)
			vb = b.save(t, "progress", &pb, saves.Meta{Description: "b: level 3"})
		})
		want := []string{va.ID, vb.ID}
		sort.Strings(want)
		deadline := time.Now().Add(30 * time.Second)
		for _, d := range []*device{b, a} {
			c := waitChange(t, d.store, "progress", "", true, deadline)
			if got := conflictIDs(c.Conflict.Versions); !slices.Equal(got, want) || !slices.Contains(c.Conflict.Fields, "/Level") {
				t.Fatalf("%s's conflict change: versions %v fields %v, want %v and /Level", d.name, got, c.Conflict.Fields, want)
			}
			cs := d.store.Conflicts()
			if len(cs) != 1 || cs[0].Slot != "progress" || !slices.Equal(conflictIDs(cs[0].Versions), want) {
				t.Fatalf("%s's Conflicts() = %+v, want progress with both %v", d.name, cs, want)
			}
		}
		for _, c := range []struct {
			d     *device
			level int
			coins int64
		}{{a, 2, 6}, {b, 3, 4}} {
			got, meta := c.d.load(t, "progress")
			if got.Level != c.level || got.Coins.Value() != c.coins {
				t.Errorf("%s under the open conflict reads level %d coins %d (version %s), want its own side: level %d coins %d", c.d.name, got.Level, got.Coins.Value(), meta.ID, c.level, c.coins)
			}
			for _, v := range c.d.store.History("progress") {
				if v.Made != "save" {
					t.Errorf("%s wrote a %s version %s: Manual must not pick a side", c.d.name, v.Made, v.ID)
				}
			}
		}
		keys := be.keys(t)
		for _, id := range want {
			if _, ok := keys[versionKey("progress", id)]; !ok {
				t.Errorf("side %s of the conflict is not on the backend", id)
			}
		}

		// The player on B picks A's side.
		r, err := b.store.Resolve("progress", va.ID)
		if err != nil {
			t.Fatal(err)
		}
		b.delivered(t, 20*time.Second)
		waitChange(t, a.store, "progress", r.ID, false, time.Now().Add(10*time.Second))
		id := converged(t, "progress", time.Now().Add(10*time.Second), a, b)
		for _, d := range []*device{a, b} {
			got, meta := d.load(t, "progress")
			if meta.ID != id || meta.Made != "resolve" || got.Level != 2 || got.Coins.Value() != 9 {
				t.Errorf("%s after the resolve: %+v level %d coins %d, want A's level 2 and coins 1+5+3 = 9", d.name, meta, got.Level, got.Coins.Value())
			}
			if cs := d.store.Conflicts(); len(cs) != 0 {
				t.Errorf("%s still lists conflicts %+v", d.name, cs)
			}
		}
		n := len(be.keys(t))
		time.Sleep(5 * a.opts.Poll)
		if m := len(be.keys(t)); m != n {
			t.Errorf("%d objects written after the resolve with nothing saved: a conflict loop", m-n)
		}
	})
}

func conflictIDs(vs []saves.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	sort.Strings(out)
	return out
}

// A sink without conditional writes (it refuses If-Match / If-None-Match
// outright) still loses no version: two devices write concurrently, the
// background pollers merge, and every version either device made is on the
// backend, with nothing parked in a spool.
func TestRemoteWithoutConditionalWrites(t *testing.T) {
	be := diskBackend(t)
	noCond := func() *link { l := be.newLink(t); l.refuseConditional = true; return l }
	opts := func(o *saves.Options) { o.Poll = 100 * time.Millisecond; o.History = 1000 }
	a := openDevice(t, "a", []*link{noCond()}, opts)
	b := openDevice(t, "b", []*link{noCond()}, opts)
	rng := rand.New(rand.NewPCG(7, 8))
	var pa, pb gameSave // each game keeps its struct, as games do
	const rounds = 10
	made := map[string]bool{}
	for i := 0; i < rounds; i++ {
		pa.Coins.Add(1)
		pa.Level = i
		pa.HighScore.Offer(int64(rng.IntN(1000)))
		made[a.save(t, "progress", &pa, saves.Meta{}).ID] = true
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		pb.Coins.Add(1)
		pb.Level = 100 + i
		pb.Achieved.Unlock(fmt.Sprintf("b%d", i))
		made[b.save(t, "progress", &pb, saves.Meta{}).ID] = true
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
	}
	a.delivered(t, 30*time.Second)
	b.delivered(t, 30*time.Second)
	id := converged(t, "progress", time.Now().Add(30*time.Second), a, b)
	a.delivered(t, 30*time.Second)
	b.delivered(t, 30*time.Second)
	for _, d := range []*device{a, b} {
		got, _ := d.load(t, "progress")
		if got.Coins.Value() != 2*rounds || len(got.Achieved.Names()) != rounds {
			t.Errorf("%s: coins %d (want %d), unlocks %v", d.name, got.Coins.Value(), 2*rounds, got.Achieved.Names())
		}
		for _, v := range d.store.History("progress") {
			made[v.ID] = true
		}
		for _, st := range d.sp.Stats().Sinks {
			if st.Parked != 0 || st.Failed != 0 {
				t.Errorf("%s: spool parked saves: %+v", d.name, d.sp.Failed())
			}
		}
	}
	keys := be.keys(t)
	for v := range made {
		if _, ok := keys[versionKey("progress", v)]; !ok {
			t.Errorf("version %s lost: not on the backend", v)
		}
	}
	conds := 0
	for _, d := range []*device{a, b} {
		for _, l := range d.links {
			l.mu.Lock()
			conds += l.conds
			l.mu.Unlock()
		}
	}
	t.Logf("%d versions (current %s), all on the backend; conditional puts attempted: %d (every version is a new key)", len(made), id, conds)
}

// A poll is one List per sink and a Get only for versions not known yet:
// none for versions already fetched from another sink, none for the
// device's own, none after a restart, none for pruned ones.
func TestRemoteRequestsPerPoll(t *testing.T) {
	plugins := enginetest.BuildPlugin(t, "disk")
	cfg := func(name string, root string) sync.SinkConfig {
		return sync.SinkConfig{Name: name, Plugin: "disk", Dirs: []string{plugins}, Settings: map[string]string{"root": root}}
	}
	root1, root2 := t.TempDir(), t.TempDir()
	a := openDevice(t, "a", []*link{newLink(t, cfg("one", root1)), newLink(t, cfg("two", root2))}, nil)
	b := openDevice(t, "b", []*link{newLink(t, cfg("one", root1)), newLink(t, cfg("two", root2))}, func(o *saves.Options) { o.History = 3 })
	counts := func() (lists, gets []int) {
		for _, l := range b.links {
			ls, gs, _, _ := l.counts()
			lists, gets = append(lists, ls), append(gets, gs)
		}
		return
	}
	step := func(what string, wantGets int) {
		t.Helper()
		l0, g0 := counts()
		b.sync(t)
		l1, g1 := counts()
		gets := 0
		for i := range l1 {
			if l1[i]-l0[i] != 1 {
				t.Errorf("%s: sink %s listed %d times in one poll, want 1", what, b.links[i].Name(), l1[i]-l0[i])
			}
			gets += g1[i] - g0[i]
		}
		if gets != wantGets {
			var got []string
			for _, l := range b.links {
				l.mu.Lock()
				got = append(got, l.gotKeys...)
				l.mu.Unlock()
			}
			t.Errorf("%s: %d Gets in one poll, want %d (all Gets so far: %v)", what, gets, wantGets, got)
		}
	}
	var p gameSave
	for i := 0; i < 3; i++ {
		p.Coins.Add(1)
		a.save(t, "progress", &p, saves.Meta{})
	}
	a.save(t, "settings", []byte("volume=3"), saves.Meta{})
	a.delivered(t, 20*time.Second)
	step("first poll: four new versions in both sinks", 4)
	step("nothing new", 0)
	p.Coins.Add(1)
	last := a.save(t, "progress", &p, saves.Meta{})
	a.delivered(t, 20*time.Second)
	step("one new version", 1)
	got, _ := b.load(t, "progress")
	if got.Coins.Value() != 4 || b.heads("progress")[0].ID != last.ID {
		t.Fatalf("B has coins %d, head %+v; want A's last version", got.Coins.Value(), b.heads("progress"))
	}
	// B's own writes: beyond History (3) the older versions are pruned.
	for i := 0; i < 4; i++ {
		got.Coins.Add(1)
		b.save(t, "progress", &got, saves.Meta{})
	}
	b.delivered(t, 20*time.Second)
	step("B's own versions, and A's that B pruned", 0)
	step("again", 0)
	for _, l := range b.links {
		if _, _, _, dels := l.counts(); dels == 0 {
			t.Errorf("sink %s: B deleted none of its pruned versions", l.Name())
		}
	}

	// After a restart, with the background poller: still one List per
	// sink per poll, and no Get at all.
	b.store.Close()
	const poll = 100 * time.Millisecond
	b.opts.Poll = poll
	l0, g0 := counts()
	start := time.Now()
	b.open(t)
	time.Sleep(12 * poll)
	b.store.Close()
	elapsed := time.Since(start)
	l1, g1 := counts()
	for i, l := range b.links {
		polls := l1[i] - l0[i]
		if polls < 2 || float64(polls) > float64(elapsed)/float64(poll)+1 {
			t.Errorf("sink %s: %d Lists in %v with Poll %v, want one per poll", l.Name(), polls, elapsed.Round(time.Millisecond), poll)
		}
		if g1[i] != g0[i] {
			t.Errorf("sink %s: %d Gets after a restart, for versions already on local disk", l.Name(), g1[i]-g0[i])
		}
		t.Logf("sink %s: %d Lists, %d Gets in %v of polling every %v", l.Name(), polls, g1[i]-g0[i], elapsed.Round(time.Millisecond), poll)
	}
}

// Two devices configured with different policies (or running game
// versions whose Merge differs) merge the same two heads each in its own
// way. No version may be overwritten: both devices must end up reading
// the same data, and what the backend holds under each key must be what
// the device that wrote it holds.
func TestRemoteDifferentPoliciesNeverOverwrite(t *testing.T) {
	be := diskBackend(t)
	readA, writeA := be.newLink(t), be.newLink(t)
	a := openDevice(t, "a", []*link{writeA}, func(o *saves.Options) { o.Policy = saves.MostRecent; o.Remotes = []saves.Remote{readA} })
	b := openDevice(t, "b", []*link{be.newLink(t)}, func(o *saves.Options) { o.Policy = saves.MostProgress })
	var base gameSave
	a.save(t, "progress", &base, saves.Meta{})
	a.delivered(t, 20*time.Second)
	b.sync(t)
	pa, _ := a.load(t, "progress")
	pa.Level = 5
	a.save(t, "progress", &pa, saves.Meta{Progress: 0.9}) // more progress: B's policy keeps it
	time.Sleep(5 * time.Millisecond)
	pb, _ := b.load(t, "progress")
	pb.Level = 7
	b.save(t, "progress", &pb, saves.Meta{Progress: 0.1}) // more recent: A's policy keeps it
	a.delivered(t, 20*time.Second)
	b.delivered(t, 20*time.Second)
	// Each device merges the two heads before it has seen the other's
	// merge: A's upload is held back until B's merge is in the backend.
	writeA.cut()
	a.sync(t)
	b.sync(t)
	b.delivered(t, 20*time.Second)
	writeA.connect(t)
	a.delivered(t, 20*time.Second)
	for i := 0; i < 2; i++ {
		a.sync(t)
		b.sync(t)
		a.delivered(t, 20*time.Second)
		b.delivered(t, 20*time.Second)
	}
	ga, va := a.load(t, "progress")
	gb, vb := b.load(t, "progress")
	if ga.Level != gb.Level {
		t.Errorf("A reads level %d (version %s), B reads level %d (version %s): the devices disagree", ga.Level, va.ID, gb.Level, vb.ID)
	}
	// What the backend holds under each version's key is what its maker holds.
	c := openDevice(t, "c", []*link{be.newLink(t)}, nil)
	c.sync(t)
	for _, d := range []*device{a, b} {
		for _, v := range d.store.History("progress") {
			mine, _, err1 := d.store.Read("progress", v.ID)
			stored, _, err2 := c.store.Read("progress", v.ID)
			if err1 != nil || err2 != nil || !bytes.Equal(mine, stored) {
				t.Errorf("version %s (%s) on %s: %q, in the backend: %q (%v, %v): overwritten", v.ID, v.Made, d.name, mine, stored, err1, err2)
			}
		}
	}
}

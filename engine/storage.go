package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/config"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/engine/spool"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
)

// storage is the spool and the plugin sinks of one Run: capture hands it
// segments, it journals them on local disk and delivers them to every sink.
type storage struct {
	sp       *spool.Spool
	sinks    []*skysync.Sink
	exitWait time.Duration
	logger   *slog.Logger
	started  time.Time
	where    map[string]string // sink name → where it stores, for the start-up log
	// recording: segments go to the sinks (else only saves do).
	recording bool

	evictMu gosync.Mutex
	evicted map[string]map[uint64]string // session prefix → segment index → why it was evicted

	// accepted: the segments of each session not yet ended, for its end
	// record's Stored; cat: this device's catalogs of ended sessions.
	accepted sessionSegments
	cat      *catalogs
}

// sinkStartGrace bounds how long a game, once its window is open, waits
// for its sinks' first answer (normally there long before: a plugin starts
// in tens of milliseconds, while the window opens). A sink that has not
// answered by then keeps starting in the background.
const sinkStartGrace = time.Second

// openStorage starts a plugin per configured sink, all at once and in the
// background, and opens the spool, which replays what an earlier run left
// undelivered. It does not wait for any sink: awaitSinks, called once the
// window is open, does, briefly.
//
// Each game has its own spool under cfg.SpoolDir, so two different games
// can run at once; a second instance of the same game is refused by the
// spool's lock with a clear error.
func openStorage(cfg config.Config, game string, recording bool, logger *slog.Logger) (*storage, error) {
	st := &storage{exitWait: time.Duration(cfg.ExitWaitSeconds * float64(time.Second)), logger: logger,
		started: time.Now(), where: map[string]string{}, recording: recording}
	var spoolSinks []spool.Sink
	for _, sc := range cfg.Sinks {
		settings, err := sc.StringSettings()
		if err != nil {
			st.closeSinks()
			return nil, fmt.Errorf("config: %w", err)
		}
		s, err := skysync.StartBackground(skysync.SinkConfig{
			Name: sc.Name, Plugin: sc.Plugin, SHA256: sc.SHA256, Settings: settings, Dirs: []string{cfg.PluginDir},
		}, skysync.Options{Logger: logger})
		if errors.Is(err, skysync.ErrPluginNotFound) {
			// A plugin that is not installed: the game still plays, and
			// says loudly that this sink gets nothing.
			logger.Warn("sink disabled: its plugin is missing, nothing will be stored there", "sink", sc.Name, "err", err)
			continue
		}
		if err != nil {
			st.closeSinks()
			return nil, fmt.Errorf("engine: %w", err)
		}
		st.sinks = append(st.sinks, s)
		st.where[sc.Name] = sinkLocation(sc.Plugin, settings, game, cfg.Player)
		spoolSinks = append(spoolSinks, s)
	}
	if len(spoolSinks) == 0 {
		return nil, nil // nothing to record to
	}
	sp, err := spool.Open(filepath.Join(cfg.SpoolDir, game), spoolSinks, spool.Options{MaxBytes: int64(cfg.SpoolMB * (1 << 20)), Logger: logger,
		AttemptTimeout: putTimeout(cfg.Capture.SegmentMB), OnEvict: st.noteEvicted})
	if err != nil {
		st.closeSinks()
		if errors.Is(err, spool.ErrLocked) {
			err = fmt.Errorf("%w: another copy of %s is running and recording; to run a second one, give it a config with its own spool_dir (-config FILE), or run it with -capture=false", err, game)
		}
		return nil, fmt.Errorf("engine: spool: %w", err)
	}
	st.sp = sp
	st.openCatalogs(filepath.Join(cfg.SpoolDir, game), game, deviceName(cfg.Saves.Device), cfg.Player)
	return st, nil
}

// openCatalogs loads this device's catalog of player's sessions from the
// spool directory (held under the spool's lock: no other process writes
// it), so that a bad file is reported at start.
func (st *storage) openCatalogs(spoolDir, game, device, player string) {
	st.cat = newCatalogs(spoolDir, game, device, st.logger)
	st.cat.mu.Lock()
	defer st.cat.mu.Unlock()
	if _, err := st.cat.catalog(player); err != nil {
		st.logger.Warn("no session catalog for this player", "player", player, "err", err)
	}
}

// sinkLocation names where a sink keeps this game's recordings, for the
// player: a directory for disk, a bucket URL for S3, else the plugin.
// Secrets never appear: only root, bucket, prefix, endpoint, host are read.
func sinkLocation(plugin string, settings map[string]string, game, player string) string {
	sessions := game + "/" + player + "/sessions/"
	switch {
	case settings["root"] != "" && plugin == "disk":
		return filepath.Join(settings["root"], filepath.FromSlash(sessions))
	case settings["bucket"] != "":
		loc := "s3://" + settings["bucket"] + "/" + settings["prefix"] + sessions
		if ep := settings["endpoint"]; ep != "" {
			loc += " at " + ep
		}
		return loc
	case settings["host"] != "":
		return plugin + "://" + settings["host"] + "/" + strings.TrimPrefix(settings["root"]+"/", "/") + sessions
	}
	return plugin + " plugin, under " + sessions
}

// reportSinks logs each sink's first answer, for storage opened while the
// game already runs (saves with capture off): nothing waits for it.
func (st *storage) reportSinks() {
	if err := st.awaitSinks(); err != nil {
		st.logger.Error("saves: a sink refused its settings; saves wait in the spool until the config is fixed", "err", err)
	}
}

// awaitSinks waits, at most sinkStartGrace more, for each sink's first
// answer and reports it. Rejected settings (or a binary that is not the
// plugin) stop the game: that is a config to fix. A store that cannot be
// reached yet, or a plugin still starting, does not: recording goes into
// the spool and the sink catches up once it is up.
func (st *storage) awaitSinks() error {
	ctx, cancel := context.WithTimeout(context.Background(), sinkStartGrace)
	defer cancel()
	type verdict struct {
		s   *skysync.Sink
		err error
	}
	verdicts := make([]verdict, len(st.sinks))
	var wg gosync.WaitGroup
	for i, s := range st.sinks {
		wg.Go(func() { verdicts[i] = verdict{s, s.Wait(ctx)} })
	}
	wg.Wait()
	var errs []error
	for _, v := range verdicts {
		name, where := v.s.Name(), st.where[v.s.Name()]
		switch {
		case v.err == nil && st.recording:
			st.logger.Info("recording to sink "+name, "sink", name, "location", where, "plugin", v.s.Where())
		case v.err == nil:
			st.logger.Info("saves go to sink "+name+" (recording is off)", "sink", name, "plugin", v.s.Where())
		case errors.Is(v.err, context.DeadlineExceeded) && ctx.Err() != nil:
			st.logger.Warn("sink still starting; recording into the spool meanwhile", "sink", name, "location", where)
		case skysync.Permanent(v.err):
			errs = append(errs, fmt.Errorf("engine: sink %q: %w", name, v.err))
		default:
			st.logger.Warn("sink unavailable: recording into the spool; it is delivered once the sink is reachable",
				"sink", name, "location", where, "err", v.err)
		}
	}
	st.logger.Debug("sinks answered", "after", time.Since(st.started).Round(time.Millisecond))
	return errors.Join(errs...)
}

// putTimeout bounds one delivery attempt, so a plugin that answers its
// health checks but never finishes a Put (a stuck network call) cannot
// hold a sink's queue: the attempt fails as retryable and is made again.
// It allows a full segment at 256 KiB/s, and at least two minutes.
func putTimeout(segmentMB float64) time.Duration {
	return max(2*time.Minute, time.Duration(segmentMB*4)*time.Second)
}

// exitWaitOr is the configured exit wait, or def without storage.
func (st *storage) exitWaitOr(def time.Duration) time.Duration {
	if st == nil {
		return def
	}
	return st.exitWait
}

// PutSegment implements capture.SegmentSink: the segment is on local disk
// (fsynced) when it returns; delivery to the sinks happens in the
// background.
func (st *storage) PutSegment(ctx context.Context, info capture.SegmentInfo, data []byte) error {
	if err := st.sp.Accept(ctx, spool.Item{Key: info.Key, Kind: spool.KindSegment, Data: data}); err != nil {
		return noRoom(err)
	}
	st.accepted.add(info, len(data))
	return nil
}

// noRoom tells capture that a full spool refused a segment.
func noRoom(err error) error {
	if errors.Is(err, spool.ErrFull) {
		return fmt.Errorf("%w: %w", capture.ErrNoRoom, err)
	}
	return err
}

// BeginSegment implements capture.SegmentJournaler: the open segment is
// journaled in the spool as it grows.
func (st *storage) BeginSegment(key string) (capture.SegmentJournal, error) {
	j, err := st.sp.Begin(key, spool.KindSegment)
	if err != nil {
		return nil, err
	}
	return segmentJournal{j, st}, nil
}

type segmentJournal struct {
	*spool.Journal
	st *storage
}

func (j segmentJournal) Commit(ctx context.Context, info capture.SegmentInfo, data []byte) error {
	if err := j.Journal.Commit(ctx, data); err != nil {
		return noRoom(err)
	}
	j.st.accepted.add(info, len(data))
	return nil
}

// noteEvicted remembers a segment the spool dropped after accepting it, for
// the end record of its session (EvictedSegments). Called with the spool's
// lock held.
func (st *storage) noteEvicted(key string, fullDisk bool) {
	k, ok := segment.ParseKey(key)
	if !ok {
		return
	}
	why := "evicted from the spool over spool_mb"
	if fullDisk {
		why = "evicted from the spool: the disk was full"
	}
	st.evictMu.Lock()
	defer st.evictMu.Unlock()
	if st.evicted == nil {
		st.evicted = map[string]map[uint64]string{}
	}
	prefix := k.Prefix()
	if st.evicted[prefix] == nil {
		st.evicted[prefix] = map[uint64]string{}
	}
	st.evicted[prefix][k.Index] = why
}

// EvictedSegments implements capture.EvictionReporter.
func (st *storage) EvictedSegments(sessionPrefix string) map[uint64]string {
	st.evictMu.Lock()
	defer st.evictMu.Unlock()
	m := st.evicted[sessionPrefix]
	delete(st.evicted, sessionPrefix)
	return m
}

// PutManifest implements capture.ManifestSink: the session's manifest
// follows its segments through the spool (in order, per sink); as a
// record it is never evicted and is written from the spool's reserve when
// the disk is full. The engine fills its Stored summary from the segments
// the spool accepted, and then lists the session in this device's
// catalog (catalog.go).
func (st *storage) PutManifest(ctx context.Context, key string, data []byte) error {
	k, keyOK := segment.ParseManifestKey(key)
	var segs map[uint64]storedSegment
	if keyOK {
		segs = st.accepted.take(k.Prefix())
	}
	m, err := segment.ParseManifest(data)
	if !keyOK || err != nil {
		// Not an end record this build can summarize: stored as given.
		st.logger.Warn("session end record stored without a summary or catalog entry", "key", key, "err", err)
		return st.sp.Accept(ctx, spool.Item{Key: key, Kind: spool.KindRecord, Data: data})
	}
	// Accepting the record and the catalog may evict this session's
	// segments (over spool_mb, or for room on a full disk): then they are
	// lost, and a record that counted them stored would not match the
	// sinks. Such segments are listed lost and both are accepted again;
	// the spool delivers only the newest version of a record.
	for round := 1; ; round++ {
		m.Stored = storedSummary(segs, m.Lost)
		out, err := segment.MarshalManifest(m)
		if err != nil {
			return fmt.Errorf("engine: session end record %s: %w", key, err)
		}
		if err := st.sp.Accept(ctx, spool.Item{Key: key, Kind: spool.KindRecord, Data: out}); err != nil {
			if round == 1 {
				return err
			}
			st.logger.Warn("session end record not corrected after an eviction: its stored summary counts segments the sinks will not have (readers then read the session)", "key", key, "err", err)
			return nil
		}
		st.catalogSession(ctx, out)
		gone := st.EvictedSegments(k.Prefix())
		if len(gone) == 0 {
			return nil
		}
		if round == maxRecordRounds {
			st.logger.Warn("session end record: segments still evicted after it was written; its stored summary counts them (readers then read the session)", "key", key, "evicted", len(gone))
			return nil
		}
		m.Lost = addLost(m.Lost, gone, segs)
	}
}

// maxRecordRounds bounds how often PutManifest writes a session's end
// record again for segments evicted meanwhile (each round evicts at most
// what room the record and the catalog take).
const maxRecordRounds = 4

// addLost lists the evicted segments in lost (by index, once each).
func addLost(lost []segment.LostSegment, gone map[uint64]string, segs map[uint64]storedSegment) []segment.LostSegment {
	have := map[uint64]bool{}
	for _, l := range lost {
		have[l.Index] = true
	}
	for i, why := range gone {
		s, ok := segs[i]
		if !ok || have[i] {
			continue
		}
		lost = append(lost, segment.LostSegment{Index: i, FirstSeq: s.info.FirstSeq, Frames: uint64(s.info.Frames), Reason: why})
	}
	slices.SortFunc(lost, func(a, b segment.LostSegment) int { return cmp.Compare(a.Index, b.Index) })
	return lost
}

// catalogSession lists an ended session, whose end record (as stored)
// is stored, in this device's catalog of its player, and hands the
// catalog to the spool. A catalog is derived data: failing to write one
// is logged, and the session stays readable the slow way.
func (st *storage) catalogSession(ctx context.Context, stored []byte) {
	// The entry is the record as stored, decoded, so that marshalling it
	// again gives the stored bytes.
	m, err := segment.ParseManifest(stored)
	if err != nil {
		st.logger.Warn("session not listed in the catalog", "session", m.Session, "err", err)
		return
	}
	st.cat.mu.Lock()
	defer st.cat.mu.Unlock()
	// The local file first: a crash after the Accept but before it would
	// let the next run's catalog, lacking this session, replace this one.
	data, written, err := st.cat.add(segment.CatalogEntry{Manifest: m, ManifestSize: int64(len(stored))}, time.Now())
	if err == nil {
		err = st.sp.Accept(ctx, spool.Item{Key: st.cat.key(m.Player), Kind: spool.KindRecord, Data: data})
	}
	if err == nil && !written {
		st.cat.writeLocal(m.Player, data) // a full disk: the Accept made room
	}
	if err != nil {
		st.logger.Warn("session catalog not stored: readers list this session by reading it instead",
			"key", st.cat.key(m.Player), "session", m.Session, "err", err)
	}
}

// pending counts deliveries not yet done (parked items excluded) to sinks
// that are not down: a sink that never came up this run (its launch
// failed) is not waited for at exit, its items stay in the spool for the
// next start; one still starting, or up, is waited for (exitWait bounds
// it).
func (st *storage) pending() int {
	waitFor := map[string]bool{}
	for _, s := range st.sinks {
		waitFor[s.Name()] = !s.Down()
	}
	n := 0
	for _, s := range st.sp.Stats().Sinks {
		if s.Active && waitFor[s.Name] {
			n += s.Pending
		}
	}
	return n
}

// exitMargin is the most that closing storage takes after exitWait,
// whatever the plugins do (stopped, deadlocked, stuck in a call):
// spoolStopGrace for the spool's delivery goroutines to stop by
// themselves, then each plugin is stopped (all at once) by sdk's
// Client.Close, which kills it after its graceful deadline
// (sdk.CloseTimeout in all); the spool gets what is left of the margin.
// So a game exits within exit_wait_seconds + 3 s, plus its own
// teardown; what was not delivered stays in the spool for the next start.
const exitMargin = 3 * time.Second

// spoolStopGrace is how long close lets the spool's Puts in flight end by
// cancellation before the plugins are stopped under them. (A Put held by
// a stopped plugin ends only when the plugin is killed.)
const spoolStopGrace = 250 * time.Millisecond

// close waits up to exitWait for the spool to deliver, then stops it and
// the plugins, within exitMargin more whatever the plugins do. What is
// left stays in the spool for the next run.
func (st *storage) close() error {
	deadline := time.Now().Add(st.exitWait)
	for st.pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := st.pending(); n > 0 {
		st.logger.Warn("exiting with deliveries pending; they stay in the spool for the next start", "pending", n)
	}
	// The spool is closed first, so that its Puts in flight end by
	// cancellation (their items stay queued on disk) rather than by a
	// sink closing under them, which would park them; then the plugins.
	ctx, cancel := context.WithTimeout(context.Background(), exitMargin)
	defer cancel()
	spoolClosed := make(chan error, 1)
	go func() { spoolClosed <- st.sp.Close(ctx) }()
	var err error
	t := time.NewTimer(spoolStopGrace)
	select {
	case err = <-spoolClosed:
		spoolClosed = nil
	case <-t.C:
		// A Put held by a hung plugin: stopping the plugins ends it.
	}
	t.Stop()
	st.closeSinks()
	if spoolClosed != nil {
		err = <-spoolClosed // by ctx's deadline at the latest
	}
	return err
}

// closeSinks stops every sink's plugin, all at once: each within about
// sdk.CloseTimeout whatever it does.
func (st *storage) closeSinks() {
	var wg gosync.WaitGroup
	for _, s := range st.sinks {
		wg.Go(func() { s.Close() })
	}
	wg.Wait()
}

var _ capture.SegmentSink = (*storage)(nil)

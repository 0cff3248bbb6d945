package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/config"
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
}

// openStorage starts a plugin per configured sink and opens the spool,
// which replays what an earlier run left undelivered.
//
// Each game has its own spool under cfg.SpoolDir, so two different games
// can run at once; a second instance of the same game is refused by the
// spool's lock with a clear error.
func openStorage(cfg config.Config, game string, logger *slog.Logger) (*storage, error) {
	st := &storage{exitWait: time.Duration(cfg.ExitWaitSeconds * float64(time.Second)), logger: logger}
	var spoolSinks []spool.Sink
	for _, sc := range cfg.Sinks {
		settings, err := sc.StringSettings()
		if err != nil {
			st.closeSinks()
			return nil, fmt.Errorf("config: %w", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s, err := skysync.Start(ctx, skysync.SinkConfig{
			Name: sc.Name, Plugin: sc.Plugin, SHA256: sc.SHA256, Settings: settings, Dirs: []string{cfg.PluginDir},
		}, skysync.Options{Logger: logger})
		cancel()
		if errors.Is(err, skysync.ErrPluginNotFound) {
			// A game run without its plugins (go run, a bare binary) still
			// plays; it says loudly that this sink gets nothing.
			logger.Warn("sink disabled: its plugin is missing, nothing will be stored there", "sink", sc.Name, "err", err)
			continue
		}
		if err != nil {
			st.closeSinks()
			return nil, fmt.Errorf("engine: %w", err)
		}
		st.sinks = append(st.sinks, s)
		spoolSinks = append(spoolSinks, s)
	}
	if len(spoolSinks) == 0 {
		return nil, nil // nothing to record to
	}
	sp, err := spool.Open(filepath.Join(cfg.SpoolDir, game), spoolSinks, spool.Options{MaxBytes: int64(cfg.SpoolMB * (1 << 20)), Logger: logger})
	if err != nil {
		st.closeSinks()
		if errors.Is(err, spool.ErrLocked) {
			err = fmt.Errorf("%w (is another %s already running?)", err, game)
		}
		return nil, fmt.Errorf("engine: spool: %w", err)
	}
	st.sp = sp
	return st, nil
}

// PutSegment implements capture.SegmentSink: the segment is on local disk
// (fsynced) when it returns; delivery to the sinks happens in the
// background.
func (st *storage) PutSegment(ctx context.Context, info capture.SegmentInfo, data []byte) error {
	return st.sp.Accept(ctx, spool.Item{Key: info.Key, Kind: spool.KindSegment, Data: data})
}

// PutManifest implements capture.ManifestSink: the session's manifest
// follows its segments through the spool (in order, per sink).
func (st *storage) PutManifest(ctx context.Context, key string, data []byte) error {
	return st.sp.Accept(ctx, spool.Item{Key: key, Kind: spool.KindSegment, Data: data})
}

// pending counts deliveries not yet done (parked items excluded).
func (st *storage) pending() int {
	n := 0
	for _, s := range st.sp.Stats().Sinks {
		if s.Active {
			n += s.Pending
		}
	}
	return n
}

// close waits up to exitWait for the spool to deliver, then stops it and
// the plugins. What is left stays in the spool for the next run.
func (st *storage) close() error {
	deadline := time.Now().Add(st.exitWait)
	for st.pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := st.pending(); n > 0 {
		st.logger.Warn("exiting with deliveries pending; they stay in the spool for the next start", "pending", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := st.sp.Close(ctx)
	st.closeSinks()
	return err
}

func (st *storage) closeSinks() {
	for _, s := range st.sinks {
		s.Close()
	}
}

var _ capture.SegmentSink = (*storage)(nil)

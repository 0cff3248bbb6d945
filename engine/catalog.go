package engine

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"
	"time"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
)

// The engine's side of segment.Catalog: storage remembers what each
// session stored, fills the end record's Stored summary from it, and
// keeps this device's catalog of ended sessions, one per player, both in
// the sinks (through the spool, at segment.CatalogKey) and locally, so
// that the next run's catalog still lists the sessions of earlier ones.

// catalogDir is where, inside a game's spool directory, the local
// catalogs live: catalog/PLAYER/DEVICE.json. Inside it rather than beside
// it so the spool's lock covers them too (one writer per file); the spool
// leaves alone what it does not name (engine/spool's layout).
const catalogDir = "catalog"

// storedSegment is one segment the spool accepted.
type storedSegment struct {
	info capture.SegmentInfo
	size int64
}

// sessionSegments remembers, per session prefix, the segments accepted.
type sessionSegments struct {
	mu   gosync.Mutex
	segs map[string]map[uint64]storedSegment
}

// add notes a segment the spool accepted.
func (ss *sessionSegments) add(info capture.SegmentInfo, size int) {
	k, ok := segment.ParseKey(info.Key)
	if !ok {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.segs == nil {
		ss.segs = map[string]map[uint64]storedSegment{}
	}
	p := k.Prefix()
	if ss.segs[p] == nil {
		ss.segs[p] = map[uint64]storedSegment{}
	}
	ss.segs[p][k.Index] = storedSegment{info: info, size: int64(size)}
}

// take returns the segments accepted under prefix and forgets them: the
// session has ended.
func (ss *sessionSegments) take(prefix string) map[uint64]storedSegment {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	m := ss.segs[prefix]
	delete(ss.segs, prefix)
	return m
}

// storedSummary is the Stored of a session: the segments accepted, less
// those its end record lists as lost (the recorder lists there the ones
// the spool evicted after accepting them).
func storedSummary(segs map[uint64]storedSegment, lost []segment.LostSegment) *segment.Stored {
	gone := map[uint64]bool{}
	for _, l := range lost {
		gone[l.Index] = true
	}
	var kept []storedSegment
	for i, s := range segs {
		if !gone[i] {
			kept = append(kept, s)
		}
	}
	slices.SortFunc(kept, func(a, b storedSegment) int { return cmp.Compare(a.info.Index, b.info.Index) })
	st := &segment.Stored{}
	sizes := make([]segment.SegmentSize, 0, len(kept))
	for _, s := range kept {
		st.Segments++
		st.Bytes += s.size
		sizes = append(sizes, segment.SegmentSize{Index: s.info.Index, Size: s.size})
		if s.info.Frames == 0 {
			continue
		}
		if st.Frames == 0 { // the first stored frame: segments ascend by index, so by seq and time
			st.FirstSeq, st.FirstFrame = s.info.FirstSeq, frameTime(s.info.Start)
		}
		st.Frames += uint64(s.info.Frames)
		st.LastSeq, st.LastFrame = s.info.LastSeq, frameTime(s.info.End)
	}
	st.Digest = segment.SegmentsDigest(sizes)
	return st
}

// frameTime is t as a segment stores it (Unix nanoseconds), in UTC, so
// that the summary equals what decoding the segments shows.
func frameTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

// catalogs are this device's catalogs of one game, one per player, as
// last written: kept in memory and in local files.
type catalogs struct {
	dir    string // SPOOL/GAME/catalog
	game   string
	device string // segment.CatalogDevice of the configured device
	logger *slog.Logger

	mu     gosync.Mutex // held from an update to its Accept: versions reach the spool in order
	loaded map[string]*segment.Catalog
}

func newCatalogs(spoolDir, game, device string, logger *slog.Logger) *catalogs {
	return &catalogs{dir: filepath.Join(spoolDir, catalogDir), game: game, device: segment.CatalogDevice(device),
		logger: logger, loaded: map[string]*segment.Catalog{}}
}

// deviceName is the config's device, else the host name.
func deviceName(configured string) string {
	if configured != "" {
		return configured
	}
	h, _ := os.Hostname()
	return h // "" becomes "device" in CatalogDevice
}

// key is the catalog's key in the sinks.
func (c *catalogs) key(player string) string { return segment.CatalogKey(c.game, player, c.device) }

// path is the local file of player's catalog. The player is a checked
// key component (no "/", ".", ".."), so it cannot leave c.dir.
func (c *catalogs) path(player string) string {
	return filepath.Join(c.dir, player, c.device+".json")
}

// catalog returns player's catalog, reading the local file the first
// time. A file that cannot be read or used is logged and replaced by a
// new catalog: the sessions it listed are still in the sinks, where
// readers find them by reading the sessions.
func (c *catalogs) catalog(player string) (*segment.Catalog, error) {
	if cat := c.loaded[player]; cat != nil {
		return cat, nil
	}
	if err := sdk.ValidateKey(c.key(player)); err != nil {
		return nil, fmt.Errorf("engine: session catalog of player %q: %w", player, err)
	}
	path := c.path(player)
	cat, err := readCatalog(path, c.game, player, c.device)
	if err != nil {
		c.logger.Warn("local session catalog unusable: starting a new one (the sessions it listed stay in the sinks, and readers read them instead); it is replaced when the next session ends",
			"file", path, "err", err)
	}
	if cat == nil {
		cat = &segment.Catalog{Version: segment.CatalogVersion, Game: c.game, Player: player, Device: c.device}
	}
	c.loaded[player] = cat
	return cat, nil
}

// readCatalog reads a local catalog file: nil, nil when there is none.
func readCatalog(path, game, player, device string) (*segment.Catalog, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cat, err := segment.ParseCatalog(data)
	if err != nil {
		return nil, err
	}
	if cat.Game != game || cat.Player != player || cat.Device != device {
		return nil, fmt.Errorf("%w: it is the catalog of %s/%s on device %s, this file is for %s/%s on %s",
			segment.ErrCatalog, cat.Game, cat.Player, cat.Device, game, player, device)
	}
	return &cat, nil
}

// add puts e in its player's catalog (replacing an entry of the same
// session), writes the local file and returns the catalog's bytes and
// whether the file was written. c.mu is held. A failed local write is not
// an error: the sinks still get the catalog (see writeLocal).
func (c *catalogs) add(e segment.CatalogEntry, now time.Time) ([]byte, bool, error) {
	player := e.Manifest.Player
	cat, err := c.catalog(player)
	if err != nil {
		return nil, false, err
	}
	id := e.Manifest.Session
	i, found := slices.BinarySearchFunc(cat.Sessions, id, func(x segment.CatalogEntry, id string) int {
		return cmp.Compare(x.Manifest.Session, id)
	})
	if found {
		cat.Sessions[i] = e
	} else {
		cat.Sessions = slices.Insert(cat.Sessions, i, e)
	}
	cat.Updated = now.UTC()
	data, err := segment.MarshalCatalog(*cat)
	if err != nil {
		return nil, false, err
	}
	return data, writeFileAtomic(c.path(player), data) == nil, nil
}

// writeLocal writes player's catalog file again, after a failed write
// (on a full disk the spool has made room since), and logs a failure: the
// next run's catalog will lack the sessions since the file was last
// written (they stay readable the slow way).
func (c *catalogs) writeLocal(player string, data []byte) {
	if err := writeFileAtomic(c.path(player), data); err != nil {
		c.logger.Warn("local session catalog not written: the sinks still get it, but the next run's catalog will lack the sessions since it was last written",
			"file", c.path(player), "err", err)
	}
}

// writeFileAtomic replaces path with data: a temporary file beside it,
// fsynced, renamed over it, the directory fsynced. A crash leaves the old
// file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// A listing of many ended sessions must not read every session: a
// player's catalog carries each ended session's summary, so that a reader
// lists a sink with List pages and one Get per catalog, not per session.
//
// Every device that records keeps its own catalog of the sessions it
// ended, GAME/PLAYER/catalog/DEVICE.json, and replaces it (through the
// spool) each time a session ends: one writer per object, so devices of
// one player never race for it. A catalog is derived data: the segments
// and end records stay the truth. A reader trusts an entry only while the
// listing agrees with it (the end record's size, and the numbers and
// sizes of the stored segments: Stored.Digest); otherwise it reads the
// session itself.

// CatalogDir is the path component under GAME/PLAYER/ that holds catalogs.
const CatalogDir = "catalog"

// CatalogVersion is the catalog version this package writes and reads.
const CatalogVersion = 1

var deviceNameChars = regexp.MustCompile(`[^a-z0-9._-]+`)

// CatalogDevice turns a device name (the config's device, default the host
// name) into the DEVICE of a catalog key: lower case, [a-z0-9._-].
func CatalogDevice(device string) string {
	d := strings.Trim(deviceNameChars.ReplaceAllString(strings.ToLower(device), "-"), "-.")
	if d == "" {
		return "device"
	}
	return d
}

// CatalogKey returns GAME/PLAYER/catalog/DEVICE.json.
func CatalogKey(game, player, device string) string {
	return game + "/" + player + "/" + CatalogDir + "/" + CatalogDevice(device) + ".json"
}

// ParseCatalogKey takes a catalog key apart.
func ParseCatalogKey(key string) (game, player, device string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[2] != CatalogDir || parts[0] == "" || parts[1] == "" {
		return "", "", "", false
	}
	device, ok = strings.CutSuffix(parts[3], ".json")
	if !ok || device == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], device, true
}

// Stored summarizes the segments a session stored (those not Lost): what
// a listing shows without reading them. The engine's storage fills it in
// the end record; end records of older writers have none.
type Stored struct {
	Segments   uint64    `json:"segments"` // segment objects stored
	Bytes      int64     `json:"bytes"`    // their sizes added up
	Frames     uint64    `json:"frames"`   // frames in them
	FirstSeq   uint64    `json:"first_seq"`
	LastSeq    uint64    `json:"last_seq"`
	FirstFrame time.Time `json:"first_frame"` // capture time of the first stored frame
	LastFrame  time.Time `json:"last_frame"`  // and of the last one
	// Digest is SegmentsDigest of the stored segments: a listing whose
	// segment numbers and sizes give the same digest holds them unchanged.
	Digest string `json:"digest"`
}

// SegmentSize is one stored segment: its number and its size in bytes.
type SegmentSize struct {
	Index uint64
	Size  int64
}

// SegmentsDigest hashes segment numbers and sizes (in the order given,
// which should be ascending by Index): 32 hex digits.
func SegmentsDigest(segs []SegmentSize) string {
	h := sha256.New()
	for _, s := range segs {
		fmt.Fprintf(h, "%d %d\n", s.Index, s.Size)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// CatalogEntry is one ended session in a catalog: its end record (with
// Stored filled) and the size of the end record as stored.
type CatalogEntry struct {
	Manifest     Manifest `json:"manifest"`
	ManifestSize int64    `json:"manifest_size"`
}

// Catalog is one device's list of the sessions it ended for one player.
type Catalog struct {
	Version  int            `json:"version"`
	Game     string         `json:"game"`
	Player   string         `json:"player"`
	Device   string         `json:"device"`
	Updated  time.Time      `json:"updated"`
	Sessions []CatalogEntry `json:"sessions"` // by session id, ascending
}

// ErrCatalog means a catalog that cannot be used.
var ErrCatalog = errors.New("session catalog unusable")

// MarshalCatalog encodes c (with the current version), compactly: a
// catalog holds many sessions.
func MarshalCatalog(c Catalog) ([]byte, error) {
	c.Version = CatalogVersion
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseCatalog decodes and checks a catalog: every entry's end record must
// be a valid one of the catalog's game and player, with Stored filled.
func ParseCatalog(data []byte) (Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(data, &c); err != nil {
		return Catalog{}, fmt.Errorf("%w: %v", ErrCatalog, err)
	}
	if c.Version != CatalogVersion {
		return Catalog{}, fmt.Errorf("%w: version %d, this build reads version %d", ErrCatalog, c.Version, CatalogVersion)
	}
	for i, e := range c.Sessions {
		m := e.Manifest
		if m.Game != c.Game || m.Player != c.Player || m.Session == "" {
			return Catalog{}, fmt.Errorf("%w: entry %d names session %s/%s/%s in the catalog of %s/%s", ErrCatalog, i, m.Game, m.Player, m.Session, c.Game, c.Player)
		}
		if m.Stored == nil {
			return Catalog{}, fmt.Errorf("%w: entry %d (%s) has no stored summary", ErrCatalog, i, m.Session)
		}
		if _, err := m.check(); err != nil {
			return Catalog{}, fmt.Errorf("%w: entry %d (%s): %v", ErrCatalog, i, m.Session, err)
		}
	}
	return c, nil
}

package saves

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"syscall"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// Remote is a sink the store reads other devices' versions from (an
// engine/sync Sink, or any sdk.Backend).
type Remote interface {
	Name() string
	List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error
	Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error)
}

// Deleter is a Remote that can delete: the store then deletes from it the
// old versions this device made and pruned locally (History), so a
// player's saves prefix stays small. A Remote without it keeps them all.
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

// Policy decides a conflict the typed merge rules leave open: two devices
// changed the same plain value (or a bytes slot) without seeing each
// other's change.
type Policy int

const (
	// MostRecent keeps the side written last (by hybrid logical clock).
	MostRecent Policy = iota
	// MostProgress keeps the side with the higher Meta.Progress, then the
	// most recent.
	MostProgress
	// LongestPlay keeps the side with the longer Meta.PlayTime, then the
	// most recent.
	LongestPlay
	// Manual keeps both versions and reports a Conflict: the game asks the
	// player and calls Resolve. Until then Load returns this device's side.
	Manual
)

// ParsePolicy reads the config's names: most_recent, most_progress,
// longest_play, manual.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "most_recent":
		return MostRecent, nil
	case "most_progress":
		return MostProgress, nil
	case "longest_play":
		return LongestPlay, nil
	case "manual":
		return Manual, nil
	}
	return 0, fmt.Errorf("saves: policy %q: want most_recent, most_progress, longest_play or manual", s)
}

func (p Policy) String() string {
	return [...]string{"most_recent", "most_progress", "longest_play", "manual"}[p]
}

// Meta is what a player chooses a save by. Device and Updated are set by
// the store.
type Meta struct {
	Device      string        // name of the device that wrote it
	Updated     time.Time     // when it was written (the writer's clock)
	PlayTime    time.Duration // total play time
	Progress    float64       // any number that grows with progress (0..1, levels, …)
	Description string
	Thumbnail   []byte // optional small PNG (e.g. the last rendered frame)
}

// Version describes one stored version of a slot.
type Version struct {
	Slot, ID string
	Parents  []string
	Meta
	DeviceID  string
	Clock     HLC
	Size      int64
	ThumbSize int64
	Encoding  string   // json | bytes
	Made      string   // save | merge | policy:NAME | resolve | restore
	Conflicts []string // plain values a policy decided, for a merge
	Restored  string   // for a restore: the version restored
	Head      bool     // no newer version descends from it
	Encrypted bool
}

// Conflict is a slot with more than one current version that the policy
// left to the game (Manual) to resolve.
type Conflict struct {
	Slot     string
	Versions []Version // the heads, newest first
	Fields   []string  // the plain values that differ (JSON paths), when known
}

// Change tells the game that a slot changed from outside: a version from
// another device arrived (Remote) or a merge was made, or a Conflict needs
// the player.
type Change struct {
	Slot     string
	Version  string
	Conflict *Conflict
}

// Options configure a Store. Dir, Game and Player are required.
type Options struct {
	// Dir is the local directory of saves (the player's data directory);
	// the store keeps DIR/GAME/PLAYER/.
	Dir          string
	Game, Player string
	// DeviceName is shown to the player; default: the host name.
	DeviceName string
	// Remotes are read for other devices' versions; Upload sends this
	// device's versions to every sink (the engine passes the spool). Both
	// nil: local only.
	Remotes []Remote
	Upload  func(ctx context.Context, key string, data []byte) error
	// Poll is the interval of the background poll of the remotes; default
	// 2 s; negative: none (call Sync).
	Poll   time.Duration
	Policy Policy
	// Merge, when set, is the game's own merge: called for a slot with
	// several current versions (in a fixed order, two at a time, a before
	// b by id), it returns the merged payload, or ok false to leave the
	// slot to the typed rules and the Policy. It must be deterministic —
	// every device runs it on the same inputs and must get the same bytes
	// — and it runs on the store's goroutines, not the game's.
	Merge func(slot string, a, b []byte) (merged []byte, ok bool)
	// Passphrase, when set, encrypts every version (AES-256-GCM, key by
	// Argon2id) and refuses unencrypted ones.
	Passphrase string
	// History is how many versions per slot are kept (locally, and in the
	// sinks for the ones this device made) and listed by History; older
	// ones are pruned, never a current one or one not yet uploaded;
	// default 20.
	History int
	// MaxSlotBytes caps one slot's data (default 4 MiB), MaxGameBytes all
	// slots' current data together (default 64 MiB).
	MaxSlotBytes, MaxGameBytes int64
	Logger                     *slog.Logger
	// Now is the wall clock; nil: time.Now (tests inject skewed clocks).
	Now func() time.Time
}

// Errors of the Store.
var (
	ErrNotFound = errors.New("saves: no such slot")
	ErrTooLarge = errors.New("saves: too large")
	ErrClosed   = errors.New("saves: store closed")
	ErrLocked   = errors.New("saves: directory in use by another store")
)

type version struct {
	hdr       header
	key       string
	encrypted bool
}

// slotState indexes one slot's versions; heads (the versions no other
// version dominates) are kept up to date as versions arrive, so a Save
// costs the same after a thousand versions.
type slotState struct {
	versions map[string]*version
	heads    map[string]*version
}

// dominates reports whether y includes x: every device's latest version in
// x's history is in y's (version vectors, Header.Seen), ties between equal
// vectors broken by clock, then id. Versions of one device form a chain,
// so this is exact causality, and it needs no version to still exist:
// pruning old versions never resurrects what they were merged into.
func dominates(y, x *version) bool {
	if x == y {
		return false
	}
	equal := len(x.hdr.Seen) == len(y.hdr.Seen)
	for dev, c := range x.hdr.Seen {
		yc, ok := y.hdr.Seen[dev]
		if !ok || yc.Less(c) {
			return false
		}
		if yc != c {
			equal = false
		}
	}
	if !equal {
		return true
	}
	if x.hdr.Clock != y.hdr.Clock {
		return x.hdr.Clock.Less(y.hdr.Clock)
	}
	return x.hdr.ID < y.hdr.ID
}

// joinSeen is the version vector of a version made on top of vs.
func joinSeen(vs []*version) map[string]HLC {
	out := map[string]HLC{}
	for _, v := range vs {
		for dev, c := range v.hdr.Seen {
			if cur, ok := out[dev]; !ok || cur.Less(c) {
				out[dev] = c
			}
		}
	}
	return out
}

// Store keeps one player's saves of one game: on local disk first, synced
// to the sinks in the background.
type Store struct {
	opts     Options
	dir      string // DIR/GAME/PLAYER
	deviceID string
	key      *cipherKey // nil: no encryption
	lockFile *os.File

	mu        gosync.Mutex
	clock     clock
	slots     map[string]*slotState
	pruned    map[string]bool    // ids of versions deleted here as too old (pruned.txt)
	bad       map[string]Refusal // sink + "\x00" + key → why it was refused (logged once)
	changes   []Change
	conflicts map[string]*Conflict
	mine      map[string]string // slot → the head this device last wrote or read (under Manual)
	closed    bool

	signal chan struct{} // a Change is waiting (capacity 1)
	// The outbox: versions written here and not yet handed to Upload, as
	// an append-only log ("+SLOT@ID", "-SLOT@ID" lines) — one write per
	// Save instead of a file created per Save, which costs a millisecond
	// or two on common file systems.
	obMu    gosync.Mutex
	obFile  *os.File
	pending map[string]bool // SLOT@ID
	// spare holds empty temp files made in the background, so a Save
	// creates no file: it fills one and renames it.
	spare chan *os.File
	// trees caches each slot's current version decoded (JSON), so a Save
	// does not read and decode it again.
	trees    map[string]cachedTree
	qmu      gosync.Mutex
	queue    []string      // keys written locally, to fsync and upload
	wake     chan struct{} // the queue grew (capacity 1)
	salt     string
	inflight gosync.WaitGroup
	stop     chan struct{}
	done     gosync.WaitGroup
	syncMu   gosync.Mutex // one Sync at a time
}

type cachedTree struct {
	id   string
	tree any
}

type state struct {
	DeviceID string `json:"device_id"`
	Salt     string `json:"salt,omitempty"`
	Clock    HLC    `json:"clock"`
}

// Open opens (or creates) the store, reads the local versions, queues for
// upload what an earlier run wrote but did not hand over, and starts the
// background poller and uploader.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" || opts.Game == "" || opts.Player == "" {
		return nil, errors.New("saves: Open: Dir, Game and Player are required")
	}
	if opts.Poll == 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.History <= 0 {
		opts.History = 20
	}
	if opts.MaxSlotBytes <= 0 {
		opts.MaxSlotBytes = 4 << 20
	}
	if opts.MaxGameBytes <= 0 {
		opts.MaxGameBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DeviceName == "" {
		opts.DeviceName, _ = os.Hostname()
	}
	s := &Store{
		opts: opts, dir: filepath.Join(opts.Dir, opts.Game, opts.Player),
		slots: map[string]*slotState{}, pruned: map[string]bool{}, bad: map[string]Refusal{}, conflicts: map[string]*Conflict{}, mine: map[string]string{},
		signal: make(chan struct{}, 1), wake: make(chan struct{}, 1), pending: map[string]bool{}, spare: make(chan *os.File, 4), trees: map[string]cachedTree{}, stop: make(chan struct{}),
	}
	s.clock.now = opts.Now
	for _, d := range []string{"v", "tmp", "corrupt"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("saves: %w", err)
		}
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	if err := s.loadState(); err != nil {
		s.lockFile.Close()
		return nil, err
	}
	s.loadPruned()
	if err := s.loadLocal(); err != nil {
		s.lockFile.Close()
		return nil, err
	}
	for slot := range s.slots {
		s.resolveLocked(slot, false)
	}
	s.changes = nil // what was on disk at Open is not a change
	// Temp files a crash left behind are removed; the outbox is read and
	// compacted to what is still pending.
	if old, err := os.ReadDir(filepath.Join(s.dir, "tmp")); err == nil {
		for _, e := range old {
			os.Remove(filepath.Join(s.dir, "tmp", e.Name()))
		}
	}
	if err := s.openOutbox(); err != nil {
		s.lockFile.Close()
		return nil, err
	}
	s.done.Add(2)
	go s.uploader()
	go s.spareMaker()
	for _, p := range slices.Sorted(maps.Keys(s.pending)) {
		slot, id, _ := strings.Cut(p, "@")
		s.enqueue(versionKey(opts.Game, opts.Player, slot, id))
	}
	if opts.Poll > 0 && len(opts.Remotes) > 0 {
		s.done.Add(1)
		go s.poller()
	}
	return s, nil
}

// openOutbox reads the outbox log, keeps the entries whose version is
// here, rewrites the log with just those, and opens it for appending.
func (s *Store) openOutbox() error {
	path := filepath.Join(s.dir, "outbox.log")
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("saves: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) < 2 {
			continue // a torn last line: its Save had not returned
		}
		entry := line[1:]
		switch line[0] {
		case '+':
			s.pending[entry] = true
		case '-':
			delete(s.pending, entry)
		}
	}
	var b strings.Builder
	for p := range s.pending {
		slot, id, ok := strings.Cut(p, "@")
		if !ok || s.versionLocked(slot, id) == nil {
			delete(s.pending, p)
			continue
		}
		b.WriteString("+" + p + "\n")
	}
	if err := writeFileAtomic(path, filepath.Join(s.dir, "tmp"), []byte(b.String()), true); err != nil {
		return fmt.Errorf("saves: outbox: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("saves: outbox: %w", err)
	}
	s.obFile = f
	return nil
}

// outboxAdd records a version as not yet uploaded; outboxDone as handed
// over.
func (s *Store) outboxAdd(entry string) error {
	s.obMu.Lock()
	defer s.obMu.Unlock()
	if _, err := s.obFile.WriteString("+" + entry + "\n"); err != nil {
		return err
	}
	s.pending[entry] = true
	return nil
}

func (s *Store) outboxDone(entry string) {
	s.obMu.Lock()
	defer s.obMu.Unlock()
	if s.pending[entry] {
		s.obFile.WriteString("-" + entry + "\n")
		delete(s.pending, entry)
	}
}

func (s *Store) outboxPending(entry string) bool {
	s.obMu.Lock()
	defer s.obMu.Unlock()
	return s.pending[entry]
}

// spareMaker keeps a few empty temp files ready for Save.
func (s *Store) spareMaker() {
	defer s.done.Done()
	for {
		f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "w-*")
		if err != nil {
			s.opts.Logger.Debug("saves: making a spare temp file", "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(time.Second):
			}
			continue
		}
		select {
		case s.spare <- f:
		case <-s.stop:
			f.Close()
			os.Remove(f.Name())
			return
		}
	}
}

// writeVersionFile writes data as path (a spare temp file, renamed): it
// survives the process once this returns; the fsync comes later (commit).
func (s *Store) writeVersionFile(path string, data []byte) error {
	var f *os.File
	select {
	case f = <-s.spare:
	default:
		var err error
		if f, err = os.CreateTemp(filepath.Join(s.dir, "tmp"), "w-*"); err != nil {
			return err
		}
	}
	_, err := f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (s *Store) lock() error {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("saves: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("%w: %s (is another copy of %s running for player %s?)", ErrLocked, s.dir, s.opts.Game, s.opts.Player)
	}
	s.lockFile = f
	return nil
}

func (s *Store) loadState() error {
	p := filepath.Join(s.dir, "state.json")
	var st state
	data, err := os.ReadFile(p)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &st); err != nil || !regexpDevice(st.DeviceID) {
			// The device id cannot be guessed back; a fresh one is safe
			// (counters credited to the old id keep their counts).
			s.opts.Logger.Error("saves: local state file is corrupt; starting a new device identity (nothing saved is lost)", "file", p, "err", err)
			os.Rename(p, filepath.Join(s.dir, "corrupt", "state.json."+randHex(4)))
			st = state{}
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("saves: %w", err)
	}
	if st.DeviceID == "" {
		st.DeviceID = "d" + randHex(5)
	}
	if st.Salt == "" {
		st.Salt = randHex(16)
	}
	s.deviceID, s.salt = st.DeviceID, st.Salt
	s.clock.observe(st.Clock)
	if s.opts.Passphrase != "" {
		salt, _ := hex.DecodeString(st.Salt)
		k, err := deriveKey(s.opts.Passphrase, salt)
		if err != nil {
			return fmt.Errorf("saves: %w", err)
		}
		s.key = k
	}
	return s.saveState(st)
}

func (s *Store) saveState(st state) error {
	data, _ := json.Marshal(st)
	return writeFileAtomic(filepath.Join(s.dir, "state.json"), filepath.Join(s.dir, "tmp"), data, true)
}

func regexpDevice(id string) bool { return len(id) == 11 && id[0] == 'd' }

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// loadLocal reads every local version; a file that does not decode is
// moved to corrupt/ (never deleted) and logged.
func (s *Store) loadLocal() error {
	root := filepath.Join(s.dir, "v")
	slots, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("saves: %w", err)
	}
	for _, se := range slots {
		files, _ := os.ReadDir(filepath.Join(root, se.Name()))
		for _, fe := range files {
			id := strings.TrimSuffix(fe.Name(), versionExt)
			key := versionKey(s.opts.Game, s.opts.Player, se.Name(), id)
			p := filepath.Join(root, se.Name(), fe.Name())
			data, err := os.ReadFile(p)
			var d decoded
			if err == nil {
				d, err = decodeVersion(key, data, s.opts.Passphrase)
			}
			if errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrNeedPassphrase) || errors.Is(err, ErrNotEncrypted) {
				// A key problem, not damage: nothing is moved.
				return fmt.Errorf("saves: local saves of %s for %s: %w", s.opts.Game, s.opts.Player, err)
			}
			if err != nil {
				aside := filepath.Join(s.dir, "corrupt", se.Name()+"@"+fe.Name())
				os.Rename(p, aside)
				s.opts.Logger.Error("saves: local version does not read; moved aside, other versions are used", "file", p, "moved_to", aside, "err", err)
				continue
			}
			s.add(key, d)
		}
	}
	return nil
}

// add indexes a decoded version. mu held (or during Open).
func (s *Store) add(key string, d decoded) *version {
	st := s.slots[d.hdr.Slot]
	if st == nil {
		st = &slotState{versions: map[string]*version{}, heads: map[string]*version{}}
		s.slots[d.hdr.Slot] = st
	}
	v := &version{hdr: d.hdr, key: key, encrypted: d.encrypted}
	st.versions[d.hdr.ID] = v
	head := true
	for id, h := range st.heads {
		switch {
		case dominates(h, v):
			head = false
		case dominates(v, h):
			delete(st.heads, id)
		}
	}
	if head {
		st.heads[d.hdr.ID] = v
	}
	s.clock.observe(d.hdr.Clock)
	return v
}

// coveredLocked reports whether a version not seen yet is already
// included in a current head, judged from its id alone (clock and device):
// then it need not be fetched. Merges (ids "…-m…") cannot be judged so.
func (s *Store) coveredLocked(slot, id string) bool {
	st := s.slots[slot]
	dash := strings.LastIndexByte(id, '-')
	if st == nil || dash < 0 || id[dash+1] != 'd' {
		return false
	}
	c, dev := idClock(id), id[dash+1:]
	for _, h := range st.heads {
		if hc, ok := h.hdr.Seen[dev]; ok && !hc.Less(c) {
			return true
		}
	}
	return false
}

// knownLocked reports whether version id of slot is here or was pruned.
func (s *Store) knownLocked(slot, id string) bool {
	return s.pruned[id] || s.slots[slot] != nil && s.slots[slot].versions[id] != nil
}

func (s *Store) versionLocked(slot, id string) *version {
	if st := s.slots[slot]; st != nil {
		return st.versions[id]
	}
	return nil
}

// heads are the versions of slot no other version names as a parent,
// newest first.
func (s *Store) headsLocked(slot string) []*version {
	st := s.slots[slot]
	if st == nil {
		return nil
	}
	heads := make([]*version, 0, len(st.heads))
	for _, v := range st.heads {
		heads = append(heads, v)
	}
	sortNewest(heads)
	return heads
}

func sortNewest(vs []*version) {
	sort.Slice(vs, func(i, j int) bool {
		a, b := vs[i].hdr, vs[j].hdr
		if a.Clock != b.Clock {
			return b.Clock.Less(a.Clock)
		}
		return a.ID > b.ID
	})
}

// currentLocked is the version Load returns: the only head, or under an
// unresolved conflict this device's side.
func (s *Store) currentLocked(slot string) *version {
	heads := s.headsLocked(slot)
	if len(heads) == 0 {
		return nil
	}
	if len(heads) > 1 {
		if id := s.mine[slot]; id != "" {
			for _, h := range heads {
				if h.hdr.ID == id {
					return h
				}
			}
		}
		for _, h := range heads {
			if h.hdr.DeviceID == s.deviceID {
				return h
			}
		}
	}
	return heads[0]
}

// readPayload reads a version's payload and thumbnail from the local copy.
func (s *Store) readLocked(v *version) (decoded, error) {
	data, err := os.ReadFile(s.localPath(v.hdr.Slot, v.hdr.ID))
	if err != nil {
		return decoded{}, fmt.Errorf("saves: reading %s: %w", v.key, err)
	}
	return decodeVersion(v.key, data, s.opts.Passphrase)
}

func (s *Store) localPath(slot, id string) string {
	return filepath.Join(s.dir, "v", slot, id+versionExt)
}

// Save writes v as slot's new version, on local disk, and returns at once;
// the fsync and the delivery to every sink happen in the background (Flush
// waits for them). v is a []byte (stored as it is) or a value encoded as
// JSON (typically a pointer to the game's save struct); its typed fields
// (Best, Least, Counter, Unlocks, Value) are merged with the current
// version, so a save made from a stale copy loses nothing another device
// added (Load the slot to see the merged result; Save leaves v as it is,
// its Counters credited with what was added).
//
// A Save survives the game being killed once it returns; a power loss
// within a few milliseconds of it may lose it (Flush to be sure).
func (s *Store) Save(slot string, v any, meta Meta) (Version, error) {
	if err := ValidSlot(slot); err != nil {
		return Version{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Version{}, ErrClosed
	}
	stampAt := s.clock.next()
	encoding, payload, tree, err := s.encodeLocked(slot, v, stampAt)
	if err != nil {
		return Version{}, err
	}
	heads := s.headsLocked(slot)
	parents := ids(heads)
	if len(heads) > 1 && s.opts.Policy == Manual {
		// A save under an open conflict continues this device's side only.
		if cur := s.currentLocked(slot); cur != nil {
			parents = []string{cur.hdr.ID}
		}
	}
	seen := joinSeen(s.parentVersionsLocked(slot, parents))
	seen[s.deviceID] = stampAt
	h := header{
		Slot: slot, ID: stampAt.String() + "-" + s.deviceID, Parents: parents, Seen: seen,
		DeviceID: s.deviceID, Device: s.opts.DeviceName, Clock: stampAt, Updated: s.opts.Now().UTC(),
		PlayTimeMS: meta.PlayTime.Milliseconds(), Progress: meta.Progress, Description: meta.Description,
		Encoding: encoding, Made: "save",
	}
	ver, err := s.writeLocked(h, payload, meta.Thumbnail)
	if err != nil {
		return Version{}, err
	}
	if tree != nil {
		s.trees[slot] = cachedTree{id: ver.hdr.ID, tree: tree}
	}
	if len(parents) == 1 && len(heads) > 1 {
		s.mine[slot] = ver.hdr.ID
	} else {
		delete(s.mine, slot)
		delete(s.conflicts, slot)
	}
	return s.describeLocked(ver), nil
}

// encodeLocked turns the game's value into the payload of a new version;
// for JSON it also returns the payload's decoded tree (for the cache).
func (s *Store) encodeLocked(slot string, v any, at HLC) (string, []byte, any, error) {
	var encoding string
	var payload []byte
	var tree any
	switch x := v.(type) {
	case []byte:
		encoding, payload = "bytes", x
	default:
		stamp(v, stampInfo{device: s.deviceID, at: at})
		data, err := json.Marshal(v)
		if err != nil {
			return "", nil, nil, fmt.Errorf("saves: encoding slot %s as JSON: %w", slot, err)
		}
		encoding = "json"
		next, err := decodeTree(data)
		if err != nil {
			return "", nil, nil, fmt.Errorf("saves: encoding slot %s as JSON: %w", slot, err)
		}
		tree = next
		if cur := s.currentLocked(slot); cur != nil && cur.hdr.Encoding == "json" {
			base, ok := any(nil), false
			if c, hit := s.trees[slot]; hit && c.id == cur.hdr.ID {
				base, ok = c.tree, true
			} else if d, err := s.readLocked(cur); err != nil {
				return "", nil, nil, err
			} else if t, err := decodeTree(d.payload); err == nil {
				base, ok = t, true
			}
			if ok {
				tree = saveOnto(base, next)
				if merged, err := encodeTree(tree); err == nil {
					data = merged
				} else {
					tree = next
				}
			}
		}
		payload = data
	}
	if int64(len(payload)) > s.opts.MaxSlotBytes {
		return "", nil, nil, fmt.Errorf("%w: slot %s holds %d bytes, more than the %d allowed per slot (Options.MaxSlotBytes)", ErrTooLarge, slot, len(payload), s.opts.MaxSlotBytes)
	}
	total := int64(len(payload))
	for other := range s.slots {
		if other != slot {
			if cur := s.currentLocked(other); cur != nil {
				total += cur.hdr.Size
			}
		}
	}
	if total > s.opts.MaxGameBytes {
		return "", nil, nil, fmt.Errorf("%w: the game's slots would hold %d bytes, more than the %d allowed (Options.MaxGameBytes)", ErrTooLarge, total, s.opts.MaxGameBytes)
	}
	return encoding, payload, tree, nil
}

// writeLocked stores a new version locally (written and renamed: it
// survives the process) and queues its fsync and upload.
func (s *Store) writeLocked(h header, payload, thumb []byte) (*version, error) {
	key := versionKey(s.opts.Game, s.opts.Player, h.Slot, h.ID)
	data, err := encodeVersion(key, h, payload, thumb, s.key)
	if err != nil {
		return nil, fmt.Errorf("saves: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "v", h.Slot), 0o755); err != nil {
		return nil, fmt.Errorf("saves: %w", err)
	}
	// The outbox entry first: a version on disk without one would never
	// be uploaded (an entry without its version is dropped at Open).
	entry := h.Slot + "@" + h.ID
	if err := s.outboxAdd(entry); err != nil {
		return nil, fmt.Errorf("saves: outbox: %w", err)
	}
	if err := s.writeVersionFile(s.localPath(h.Slot, h.ID), data); err != nil {
		s.outboxDone(entry)
		return nil, fmt.Errorf("saves: %w", err)
	}
	v := s.add(key, decoded{hdr: h, encrypted: s.key != nil})
	v.hdr.Size = int64(len(payload))
	s.enqueue(key)
	return v, nil
}

func (s *Store) enqueue(key string) {
	s.inflight.Add(1)
	s.qmu.Lock()
	s.queue = append(s.queue, key)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// takeQueue removes up to n queued keys.
func (s *Store) takeQueue(n int) []string {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	n = min(n, len(s.queue))
	batch := slices.Clone(s.queue[:n])
	s.queue = s.queue[n:]
	return batch
}

// writeFileAtomic writes data to a temp file in tmpDir and renames it to
// path; with durable it fsyncs the file and path's directory.
func writeFileAtomic(path, tmpDir string, data []byte, durable bool) error {
	f, err := os.CreateTemp(tmpDir, "w-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = fsyncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if durable {
		return syncPath(filepath.Dir(path))
	}
	return nil
}

// syncPath fsyncs a file or a directory by name.
func syncPath(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return fsyncFile(d)
}

// fsyncFile is (*os.File).Sync; the randomized schedule test replaces it,
// as it checks merge logic over thousands of saves, not durability.
var fsyncFile = (*os.File).Sync

// uploader fsyncs written versions (in groups) and hands them to Upload.
func (s *Store) uploader() {
	defer s.done.Done()
	for {
		batch := s.takeQueue(64)
		if len(batch) == 0 {
			select {
			case <-s.stop:
				return
			case <-s.wake:
			}
			continue
		}
		s.commit(batch)
	}
}

// commit makes a batch durable and uploads it, retrying uploads until they
// succeed or the store closes (the outbox marker keeps them for the next
// Open).
func (s *Store) commit(batch []string) {
	dirs := map[string]bool{}
	for _, key := range batch {
		slot, id, _ := parseVersionKey(key)
		syncPath(s.localPath(slot, id))
		dirs[filepath.Join(s.dir, "v", slot)] = true
	}
	for d := range dirs {
		syncPath(d)
	}
	s.obMu.Lock()
	fsyncFile(s.obFile)
	s.obMu.Unlock()
	s.mu.Lock()
	st := state{DeviceID: s.deviceID, Salt: s.salt, Clock: s.clock.last}
	s.mu.Unlock()
	s.saveState(st)
	slots := map[string]bool{}
	for _, key := range batch {
		s.upload(key)
		s.inflight.Done()
		slot, _, _ := parseVersionKey(key)
		slots[slot] = true
	}
	s.mu.Lock()
	for slot := range slots {
		s.pruneLocked(slot)
	}
	s.mu.Unlock()
}

// pruneLocked deletes slot's local versions beyond the newest
// Options.History, except heads and versions not uploaded yet. Their ids
// are remembered (pruned.txt) so they are not fetched again, and the ones
// this device made are deleted from the remotes at the next Sync. Version
// vectors keep what they were merged into exact without them.
func (s *Store) pruneLocked(slot string) {
	st := s.slots[slot]
	if st == nil || len(st.versions) <= s.opts.History {
		return
	}
	vs := make([]*version, 0, len(st.versions))
	for _, v := range st.versions {
		vs = append(vs, v)
	}
	sortNewest(vs)
	var gone []string
	for _, v := range vs[s.opts.History:] {
		if st.heads[v.hdr.ID] != nil {
			continue
		}
		if s.outboxPending(slot + "@" + v.hdr.ID) {
			continue // not handed to the sinks yet
		}
		if err := os.Remove(s.localPath(slot, v.hdr.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			continue
		}
		delete(st.versions, v.hdr.ID)
		s.pruned[v.hdr.ID] = true
		gone = append(gone, slot+"/"+v.hdr.ID)
	}
	if len(gone) > 0 {
		f, err := os.OpenFile(filepath.Join(s.dir, "pruned.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			f.WriteString(strings.Join(gone, "\n") + "\n")
			f.Close()
		}
	}
}

func (s *Store) loadPruned() {
	data, _ := os.ReadFile(filepath.Join(s.dir, "pruned.txt"))
	for _, line := range strings.Split(string(data), "\n") {
		if _, id, ok := strings.Cut(line, "/"); ok {
			s.pruned[id] = true
		}
	}
}

func (s *Store) upload(key string) {
	slot, id, _ := parseVersionKey(key)
	if s.opts.Upload == nil {
		return // local only: the outbox entry uploads it once a run has sinks
	}
	data, err := os.ReadFile(s.localPath(slot, id))
	if err != nil {
		s.opts.Logger.Error("saves: version vanished before upload", "key", key, "err", err)
		return
	}
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.opts.Upload(ctx, key, data)
		cancel()
		if err == nil {
			s.outboxDone(slot + "@" + id)
			return
		}
		s.opts.Logger.Warn("saves: handing a version to the sinks failed; retrying (it is safe on local disk)", "key", key, "err", err)
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Flush waits until every Save so far is fsynced locally and handed to
// Upload (for the engine: in the spool, which delivers it to every sink).
func (s *Store) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("saves: flush: %w", ctx.Err())
	}
}

// Load reads slot's current version into v: a *[]byte receives the bytes,
// anything else is decoded from JSON. It returns the version's metadata,
// or ErrNotFound.
func (s *Store) Load(slot string, v any) (Version, error) {
	if err := ValidSlot(slot); err != nil {
		return Version{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.currentLocked(slot)
	if cur == nil {
		return Version{}, fmt.Errorf("%w: %s", ErrNotFound, slot)
	}
	d, err := s.readLocked(cur)
	if err != nil {
		return Version{}, err
	}
	if err := decodeInto(d, v); err != nil {
		return Version{}, fmt.Errorf("saves: slot %s: %w", slot, err)
	}
	out := s.describeLocked(cur)
	out.Thumbnail = d.thumb
	return out, nil
}

func decodeInto(d decoded, v any) error {
	if p, ok := v.(*[]byte); ok {
		*p = append((*p)[:0], d.payload...)
		return nil
	}
	if d.hdr.Encoding != "json" {
		return errors.New("holds bytes; load it into a *[]byte")
	}
	return json.Unmarshal(d.payload, v)
}

// Read returns a version's payload and thumbnail (any version in History).
func (s *Store) Read(slot, id string) (payload, thumbnail []byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.versionLocked(slot, id)
	if v == nil {
		return nil, nil, fmt.Errorf("%w: version %s of %s", ErrNotFound, id, slot)
	}
	d, err := s.readLocked(v)
	return d.payload, d.thumb, err
}

func (s *Store) describeLocked(v *version) Version {
	st := s.slots[v.hdr.Slot]
	return Version{
		Slot: v.hdr.Slot, ID: v.hdr.ID, Parents: v.hdr.Parents, DeviceID: v.hdr.DeviceID, Clock: v.hdr.Clock,
		Meta: Meta{Device: v.hdr.Device, Updated: v.hdr.Updated, PlayTime: time.Duration(v.hdr.PlayTimeMS) * time.Millisecond, Progress: v.hdr.Progress, Description: v.hdr.Description},
		Size: v.hdr.Size, Encoding: v.hdr.Encoding, Made: v.hdr.Made, Conflicts: v.hdr.Conflicts, Restored: v.hdr.Restored,
		Head:      st != nil && st.heads[v.hdr.ID] == v,
		Encrypted: v.encrypted,
	}
}

// Slots lists every slot's current version, by name.
func (s *Store) Slots() []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Version
	for slot := range s.slots {
		if cur := s.currentLocked(slot); cur != nil {
			out = append(out, s.describeLocked(cur))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	return out
}

// History lists slot's versions, newest first, at most Options.History.
func (s *Store) History(slot string) []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vs []*version
	if st := s.slots[slot]; st != nil {
		for _, v := range st.versions {
			vs = append(vs, v)
		}
	}
	sortNewest(vs)
	var out []Version
	for i, v := range vs {
		if i == s.opts.History {
			break
		}
		out = append(out, s.describeLocked(v))
	}
	return out
}

// Refusal is a remote object under the saves prefix that Sync refused: not
// a save version, damaged or tampered with, or encrypted with another
// passphrase (errors.Is: ErrNotSave, ErrTampered, ErrWrongPassphrase,
// ErrNeedPassphrase, ErrNotEncrypted).
type Refusal struct {
	Sink, Key string
	Err       error
}

// Refused lists what Sync refused so far, by sink then key.
func (s *Store) Refused() []Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Refusal, 0, len(s.bad))
	for _, r := range s.bad {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Sink != out[j].Sink {
			return out[i].Sink < out[j].Sink
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Conflicts lists the slots waiting for the player (policy Manual).
func (s *Store) Conflicts() []Conflict {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Conflict
	for _, c := range s.conflicts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	return out
}

// Restore makes an earlier version of slot current again, as a new version
// descending from every current one (nothing is overwritten; the versions
// it replaces stay in History).
func (s *Store) Restore(slot, id string) (Version, error) {
	return s.rewrite(slot, id, "restore")
}

// Resolve ends a conflict on slot by keeping version id (one of the
// conflict's versions, or any version in History): a new version with
// id's content descends from every current one.
func (s *Store) Resolve(slot, id string) (Version, error) {
	return s.rewrite(slot, id, "resolve")
}

func (s *Store) rewrite(slot, id, made string) (Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Version{}, ErrClosed
	}
	src := s.versionLocked(slot, id)
	if src == nil {
		return Version{}, fmt.Errorf("%w: version %s of slot %s", ErrNotFound, id, slot)
	}
	d, err := s.readLocked(src)
	if err != nil {
		return Version{}, err
	}
	payload := d.payload
	heads := s.headsLocked(slot)
	if d.hdr.Encoding == "json" {
		// The chosen version's values, with every current version's typed
		// fields joined in: no count, unlock or best score is lost.
		tree, err := decodeTree(payload)
		if err == nil {
			for _, h := range heads {
				hd, err := s.readLocked(h)
				if err != nil || hd.hdr.Encoding != "json" {
					continue
				}
				if ht, err := decodeTree(hd.payload); err == nil {
					tree = saveOnto(ht, tree)
				}
			}
			if data, err := encodeTree(tree); err == nil {
				payload = data
			}
		}
	}
	at := s.clock.next()
	h := src.hdr
	h.ID, h.Parents, h.DeviceID, h.Device, h.Clock, h.Updated = at.String()+"-"+s.deviceID, ids(heads), s.deviceID, s.opts.DeviceName, at, s.opts.Now().UTC()
	h.Seen = joinSeen(heads)
	h.Seen[s.deviceID] = at
	h.Made, h.Conflicts, h.Restored = made, nil, id
	ver, err := s.writeLocked(h, payload, d.thumb)
	if err != nil {
		return Version{}, err
	}
	delete(s.conflicts, slot)
	delete(s.mine, slot)
	return s.describeLocked(ver), nil
}

func (s *Store) parentVersionsLocked(slot string, ids []string) []*version {
	var out []*version
	for _, id := range ids {
		if v := s.versionLocked(slot, id); v != nil {
			out = append(out, v)
		}
	}
	return out
}

func ids(vs []*version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.hdr.ID
	}
	sort.Strings(out)
	return out
}

// Changes returns a channel that receives a value when changes are waiting
// for TakeChanges. The engine takes them at the start of a tick, so a game
// sees them on its own goroutine, never during Draw.
func (s *Store) Changes() <-chan struct{} { return s.signal }

// TakeChanges returns the changes since the last call.
func (s *Store) TakeChanges() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.changes
	s.changes = nil
	return c
}

func (s *Store) notifyLocked(c Change) {
	s.changes = append(s.changes, c)
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// Device returns this device's id (what its Counter entries are under)
// and name.
func (s *Store) Device() (id, name string) { return s.deviceID, s.opts.DeviceName }

func (s *Store) poller() {
	defer s.done.Done()
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(s.opts.Poll*5, 30*time.Second))
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := s.Sync(ctx); err != nil {
			s.opts.Logger.Debug("saves: poll", "err", err)
		}
		cancel()
	}
}

// Sync polls every remote once: one List of the player's saves prefix per
// remote, a Get for each version not known yet, then merges. Merges and
// new versions from other devices become Changes.
func (s *Store) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	var errs []error
	touched := map[string]bool{}
	prefix := Prefix(s.opts.Game, s.opts.Player)
	for _, r := range s.opts.Remotes {
		var fresh, stale []string
		err := r.List(ctx, prefix, func(o sdk.ObjectInfo) error {
			slot, id, ok := parseVersionKey(o.Key)
			if !ok || !strings.HasPrefix(o.Key, prefix) {
				return nil // not a version: ignored
			}
			s.mu.Lock()
			_, refused := s.bad[r.Name()+"\x00"+o.Key]
			known := s.knownLocked(slot, id) || refused || s.coveredLocked(slot, id)
			mineOld := s.pruned[id] && (strings.HasSuffix(id, "-"+s.deviceID) || strings.Contains(id, "-m"))
			s.mu.Unlock()
			if mineOld {
				stale = append(stale, o.Key)
			}
			if !known {
				fresh = append(fresh, o.Key)
			}
			return nil
		})
		if d, ok := r.(Deleter); ok && err == nil {
			for _, key := range stale {
				if derr := d.Delete(ctx, key); derr != nil && !errors.Is(derr, sdk.ErrNotFound) {
					s.opts.Logger.Debug("saves: deleting an old version", "sink", r.Name(), "key", key, "err", derr)
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("saves: listing %s: %w", r.Name(), err))
			continue
		}
		for _, key := range fresh {
			var buf bytes.Buffer
			if _, err := r.Get(ctx, key, &buf, sdk.GetOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("saves: reading %s from %s: %w", key, r.Name(), err))
				continue
			}
			d, err := decodeVersion(key, buf.Bytes(), s.opts.Passphrase)
			if err != nil {
				s.mu.Lock()
				if _, seen := s.bad[r.Name()+"\x00"+key]; !seen {
					s.bad[r.Name()+"\x00"+key] = Refusal{Sink: r.Name(), Key: key, Err: err}
					s.opts.Logger.Error("saves: refusing a remote object that is not a valid save version", "sink", r.Name(), "key", key, "err", err)
				}
				s.mu.Unlock()
				continue
			}
			s.mu.Lock()
			if !s.knownLocked(d.hdr.Slot, d.hdr.ID) {
				err := os.MkdirAll(filepath.Join(s.dir, "v", d.hdr.Slot), 0o755)
				if err == nil {
					err = writeFileAtomic(s.localPath(d.hdr.Slot, d.hdr.ID), filepath.Join(s.dir, "tmp"), buf.Bytes(), false)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("saves: storing %s locally: %w", key, err))
				} else {
					s.add(key, d)
					touched[d.hdr.Slot] = true
				}
			}
			s.mu.Unlock()
		}
	}
	for slot := range touched {
		s.resolve(slot)
	}
	return errors.Join(errs...)
}

// resolveLocked merges slot's heads when there are several, by the typed
// rules and the policy, writing the merge as a new version; under Manual
// with a plain conflict it records a Conflict instead. Every device that
// sees the same heads makes the same merge (same id, same content), so
// merging is safe to repeat and never loops.
func (s *Store) resolveLocked(slot string, notify bool) {
	heads := s.headsLocked(slot)
	if len(heads) <= 1 {
		s.settledLocked(slot, heads, notify)
		return
	}
	if p, ok := s.planMerge(slot, heads); ok {
		s.applyMergeLocked(slot, heads, p, notify)
	}
}

// resolve is resolveLocked for a running store: the merge is computed
// without the lock (a 1 MiB save takes a fraction of a second to merge,
// and a Save of the game must not wait for it), then applied if the heads
// are still the same (else merged again under the lock).
func (s *Store) resolve(slot string) {
	s.mu.Lock()
	heads := s.headsLocked(slot)
	if len(heads) <= 1 {
		s.settledLocked(slot, heads, true)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	p, ok := s.planMerge(slot, heads)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(ids(s.headsLocked(slot)), ids(heads)) {
		s.resolveLocked(slot, true) // a Save or a merge came in meanwhile
		return
	}
	if ok {
		s.applyMergeLocked(slot, heads, p, true)
	}
}

func (s *Store) settledLocked(slot string, heads []*version, notify bool) {
	if notify && len(heads) == 1 {
		s.notifyLocked(Change{Slot: slot, Version: heads[0].hdr.ID})
	}
	delete(s.conflicts, slot)
}

// mergePlan is a merge computed from a set of heads.
type mergePlan struct {
	decs      []decoded // the heads, by id
	best      int       // the one whose metadata leads
	payload   []byte
	encoding  string
	made      string
	conflicts []string
	manual    bool // leave both: a Conflict for the player
}

// planMerge reads the heads and merges them; it touches no state of s
// (the version files it reads never change), so it runs with or without
// the lock. ok is false when a head does not read (logged).
func (s *Store) planMerge(slot string, heads []*version) (mergePlan, bool) {
	// Fold in a fixed order (by id).
	ordered := slices.Clone(heads)
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].hdr.ID < ordered[j].hdr.ID })
	decs := make([]decoded, len(ordered))
	trees := make([]any, len(ordered))
	allJSON := true
	for i, v := range ordered {
		d, err := s.readLocked(v)
		if err != nil {
			s.opts.Logger.Error("saves: cannot merge", "slot", slot, "err", err)
			return mergePlan{}, false
		}
		decs[i] = d
		if d.hdr.Encoding == "json" {
			if t, err := decodeTree(d.payload); err == nil {
				trees[i] = t
				continue
			}
		}
		allJSON = false
	}
	if s.opts.Merge != nil {
		if payload, ok := s.customMerge(slot, decs); ok {
			return mergePlan{decs: decs, payload: payload, encoding: decs[0].hdr.Encoding, made: "merge:game"}, true
		}
	}
	best := 0 // the policy's winner so far
	var conflicts []string
	tree := trees[0]
	for i := 1; i < len(decs); i++ {
		winner := 0
		if s.prefer(decs[i].hdr, decs[best].hdr) {
			winner = 1
		}
		if allJSON {
			tree = mergeHeads(tree, trees[i], winner, "", &conflicts)
		} else if !bytes.Equal(decs[i].payload, decs[best].payload) || decs[i].hdr.Encoding != decs[best].hdr.Encoding {
			conflicts = append(conflicts, "")
		}
		if winner == 1 {
			best = i
		}
	}
	p := mergePlan{decs: decs, best: best, conflicts: conflicts, made: "merge"}
	if len(conflicts) > 0 && s.opts.Policy == Manual {
		p.manual = true
		return p, true
	}
	p.payload, p.encoding = decs[best].payload, decs[best].hdr.Encoding
	if allJSON {
		data, err := encodeTree(tree)
		if err != nil {
			s.opts.Logger.Error("saves: cannot merge", "slot", slot, "err", err)
			return mergePlan{}, false
		}
		p.payload, p.encoding = data, "json"
	}
	if len(conflicts) > 0 {
		p.made = "policy:" + s.opts.Policy.String()
	}
	return p, true
}

// applyMergeLocked writes a planned merge, or records the Conflict.
func (s *Store) applyMergeLocked(slot string, heads []*version, p mergePlan, notify bool) {
	if p.manual {
		c := &Conflict{Slot: slot, Fields: p.conflicts}
		for _, h := range heads {
			c.Versions = append(c.Versions, s.describeLocked(h))
		}
		if old := s.conflicts[slot]; old == nil || !slices.Equal(versionIDs(old.Versions), versionIDs(c.Versions)) {
			s.conflicts[slot] = c
			if notify {
				s.notifyLocked(Change{Slot: slot, Conflict: c})
			}
		}
		return
	}
	s.writeMergeLocked(slot, heads, p.decs, p.best, p.payload, p.encoding, p.made, p.conflicts, notify)
}

func versionIDs(vs []Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

// customMerge folds the heads with Options.Merge; ok is false when it
// declines any pair (or panics: a bug in the game's merge must not stop
// the store).
func (s *Store) customMerge(slot string, decs []decoded) (payload []byte, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.opts.Logger.Error("saves: the game's Merge panicked; using the merge rules", "slot", slot, "panic", r)
			ok = false
		}
	}()
	payload = decs[0].payload
	for _, d := range decs[1:] {
		if payload, ok = s.opts.Merge(slot, payload, d.payload); !ok {
			return nil, false
		}
	}
	return payload, true
}

// writeMergeLocked writes the version that merges heads (decs, in id
// order; best is the one whose metadata leads), the same on every device.
func (s *Store) writeMergeLocked(slot string, heads []*version, decs []decoded, best int, payload []byte, encoding, made string, conflicts []string, notify bool) {
	meta := decs[best].hdr
	for _, d := range decs {
		meta = mergeMeta(meta, d.hdr)
	}
	parents := ids(heads)
	// The id names the parents and the content: devices with the same
	// rules make the same merge under the same key; devices whose rules
	// differ (policy, Merge) make two merges under two keys, never one
	// replacing the other (the vectors then pick one, the same everywhere).
	sum := sha256.Sum256([]byte(strings.Join(parents, ",") + "\n" + made + "\n" + encoding + "\n" + digest(payload)))
	latest := heads[0].hdr.Clock
	at := HLC{Wall: latest.Wall, Logical: latest.Logical + 1}
	s.clock.observe(at)
	h := header{
		Slot: slot, ID: at.String() + "-m" + hex.EncodeToString(sum[:5]), Parents: parents, Seen: joinSeen(heads),
		DeviceID: "merge", Device: meta.Device, Clock: at, Updated: meta.Updated,
		PlayTimeMS: meta.PlayTimeMS, Progress: meta.Progress, Description: meta.Description,
		Encoding: encoding, Made: made, Conflicts: conflicts,
	}
	if s.knownLocked(slot, h.ID) {
		return // already made (by this device or another) and since pruned
	}
	ver, err := s.writeLocked(h, payload, decs[best].thumb)
	if err != nil {
		s.opts.Logger.Error("saves: writing a merge", "slot", slot, "err", err)
		return
	}
	delete(s.conflicts, slot)
	delete(s.mine, slot)
	if notify {
		s.notifyLocked(Change{Slot: slot, Version: ver.hdr.ID})
	}
}

// prefer reports whether a beats b under the policy (ties: the later
// clock, then the greater id), the same on every device.
func (s *Store) prefer(a, b header) bool {
	switch s.opts.Policy {
	case MostProgress:
		if a.Progress != b.Progress {
			return a.Progress > b.Progress
		}
	case LongestPlay:
		if a.PlayTimeMS != b.PlayTimeMS {
			return a.PlayTimeMS > b.PlayTimeMS
		}
	}
	if a.Clock != b.Clock {
		return b.Clock.Less(a.Clock)
	}
	return a.ID > b.ID
}

// mergeMeta is the metadata of a merge: the winner's description and
// device, the latest update, the most play time and progress.
func mergeMeta(win, lose header) header {
	out := win
	if lose.Updated.After(out.Updated) {
		out.Updated = lose.Updated
	}
	out.PlayTimeMS = max(win.PlayTimeMS, lose.PlayTimeMS)
	out.Progress = max(win.Progress, lose.Progress)
	return out
}

// Close stops the background work; what is not uploaded yet stays in the
// outbox for the next Open. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.done.Wait()
	// Saves the uploader did not take are fsynced here, so Close leaves
	// nothing only in the page cache; their outbox markers upload them at
	// the next Open.
	for _, k := range s.takeQueue(math.MaxInt) {
		slot, id, _ := parseVersionKey(k)
		syncPath(s.localPath(slot, id))
		s.inflight.Done()
	}
	for {
		select {
		case f := <-s.spare:
			f.Close()
			os.Remove(f.Name())
			continue
		default:
		}
		break
	}
	s.obMu.Lock()
	fsyncFile(s.obFile)
	s.obFile.Close()
	s.obMu.Unlock()
	return s.lockFile.Close()
}

package diskstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// On-disk layout (see doc.go): a key's segments become nested directories
// and the object is a plain file holding exactly its bytes, at
// ROOT/<escaped key>. Every segment is escaped ('%' → "%25"), so names
// holding a '%' that is not part of "%25" never collide with keys: they
// hold the plugin's own files. The rare key that is also a prefix of other
// keys ("a" and "a/b") is kept apart without moving anything: an object
// whose name is taken by a directory lives inside it as selfName, and the
// children of a segment whose name is taken by an object file live in the
// directory named after it plus altSuffix.
const (
	metaPrefix = "."  // sidecar of object file N, beside it: ".N%m", hidden
	metaSuffix = "%m" // from ls and matching no "*.ext" glob of N's
	selfName   = "%o" // object "a" when "a" is a directory of other keys
	altSuffix  = "%d" // directory "a%d" holds "a/…" when "a" is an object file
	tmpPrefix  = "%t" // temp files, in the root directory
	lockName   = "%lock"
)

// sidecar is the JSON in an object file's sidecar file. It is a cache: it holds
// for the data file whose size and modification time (ns) it records; for
// any other data file the ETag is recomputed and the sidecar rewritten.
type sidecar struct {
	Key      string            `json:"key"`
	Size     int64             `json:"size"`
	MtimeNS  int64             `json:"mtime_ns"`
	ETag     string            `json:"etag"` // hex SHA-256 of the content
	Metadata map[string]string `json:"metadata,omitempty"`
}

func (m sidecar) info() sdk.ObjectInfo {
	return sdk.ObjectInfo{Key: m.Key, Size: m.Size, ETag: m.ETag, Modified: time.Unix(0, m.MtimeNS).UTC(), Metadata: m.Metadata}
}

// maxSegment is the longest escaped key segment: the common file-name
// limit (255 bytes) less the longest prefix or suffix added to a name.
const maxSegment = 255 - len(metaPrefix) - len(metaSuffix)

// maxSidecar bounds what is read of a sidecar file.
const maxSidecar = 1 << 20

var diskInfo = sdk.Info{
	Name:     "disk",
	Version:  "0.1.0",
	Protocol: sdk.ProtocolVersion,
	Capabilities: sdk.Capabilities{
		ConditionalWrites: true,
		AtomicReplace:     true,
		RangedReads:       true,
		NestedKeys:        true, // "a" and "a/b": see doc.go
	},
}

var settingsDecl = []sdk.Setting{
	{Name: "root", Required: true, Help: "directory that holds the objects; created if missing"},
	{Name: "fsync", Help: "fsync files and directories before a put returns (true or false; default true)"},
}

type backend struct {
	dir   string // the root as configured, for messages
	root  *os.Root
	fsync bool
	locks [64]sync.Mutex // per-key shards: precondition check + rename
}

// newBackend opens (creating if missing) the root directory of settings.
func newBackend(ctx context.Context, settings map[string]string) (sdk.Backend, error) {
	if err := sdk.CheckSettings("disk", settingsDecl, settings); err != nil {
		return nil, err
	}
	dir := settings["root"]
	doSync := true
	if v, ok := settings["fsync"]; ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("disk: %w: fsync = %q is not a boolean", sdk.ErrInvalidSettings, v)
		}
		doSync = b
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("disk: creating root %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("disk: opening root %s: %w", dir, err)
	}
	b := &backend{dir: dir, root: root, fsync: doSync}
	// Probe: a root we cannot write to should fail now, clearly, not at the
	// first upload.
	probe := tmpPrefix + "probe-" + randHex()
	f, err := root.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("disk: root %s is not writable: %w", dir, err)
	}
	f.Close()
	_ = root.Remove(probe)
	return b, nil
}

// Close releases the root directory.
func (b *backend) Close() error { return b.root.Close() }

func (b *backend) Info(ctx context.Context) (sdk.Info, error) { return diskInfo, nil }

func randHex() string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

func escapeSeg(s string) string { return strings.ReplaceAll(s, "%", "%25") }

// unescapeSeg reverses escapeSeg; ok is false for names escapeSeg cannot
// produce (temp files, the lock file, foreign files).
func unescapeSeg(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && !strings.HasPrefix(s[i:], "%25") {
			return "", false
		}
	}
	return strings.ReplaceAll(s, "%25", "%"), true
}

// fsError classifies a file-system error: missing → ErrNotFound;
// permission, name too long, not a directory, symlinks leaving the root →
// permanent; others (I/O, ENOSPC) retryable.
func (b *backend) fsError(op, key string, err error) error {
	var se *sdk.Error
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, fs.ErrNotExist):
		return &sdk.Error{Op: op, Key: key, Kind: sdk.ErrNotFound, Err: err}
	case errors.As(err, new(uploadError)), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller's reader or context: not ours to call retryable.
		return &sdk.Error{Op: op, Key: key, Err: err}
	case errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ELOOP),
		strings.Contains(err.Error(), "path escapes from parent"):
		// Nothing about this key will change by waiting.
		return sdk.PermanentError(op, key, err)
	// Permission, read-only, not-a-directory and full-disk errors are the
	// storage's state, not the key's: an operator can fix them, so the
	// engine keeps the items spooled and retries.
	default:
		return sdk.RetryableError(op, key, err)
	}
}

func (b *backend) lockKey(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &b.locks[h.Sum32()%uint32(len(b.locks))]
	m.Lock()
	return m.Unlock
}

// lock serialises the commit of key (precondition check and rename, or
// removal) against other goroutines and, where flock exists, against other
// processes using the same root.
func (b *backend) lock(key string) (func(), error) {
	unlockKey := b.lockKey(key)
	unlockFile, err := lockRoot(b.root)
	if err != nil {
		unlockKey()
		return nil, err
	}
	return func() { unlockFile(); unlockKey() }, nil
}

const copyBuf = 256 << 10

// uploadError is a failure of the caller's reader.
type uploadError struct{ err error }

func (e uploadError) Error() string { return "reading upload: " + e.err.Error() }
func (e uploadError) Unwrap() error { return e.err }

func (b *backend) syncDir(dir string) error {
	if !b.fsync {
		return nil
	}
	d, err := b.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// copyRange writes bytes [lo, hi) of f to w, stopping at the next chunk
// once ctx is done.
func copyRange(ctx context.Context, w io.Writer, f *os.File, lo, hi int64) error {
	if _, err := f.Seek(lo, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, min(copyBuf, max(hi-lo, 1)))
	for lo < hi {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := io.ReadFull(f, buf[:min(int64(len(buf)), hi-lo)])
		if err != nil {
			return err
		}
		if _, err := w.Write(buf[:m]); err != nil {
			return fmt.Errorf("writing to caller: %w", err)
		}
		lo += int64(m)
	}
	return nil
}

func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// lstat describes p without following links: nil, nil if nothing is
// there; a permanent error if p is a symbolic link (os.Root refuses links
// that leave the root; this refuses links altogether, so a key names one
// file).
func (b *backend) lstat(op, key, p string) (fs.FileInfo, error) {
	fi, err := b.root.Lstat(p)
	if notExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, b.fsError(op, key, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, sdk.PermanentError(op, key, fmt.Errorf("refusing path %s under root %s: it is a symbolic link", p, b.dir))
	}
	return fi, nil
}

// conflict is the permanent error for a path the plugin did not make.
func (b *backend) conflict(op, key, p string, fi fs.FileInfo) error {
	return sdk.PermanentError(op, key, fmt.Errorf("path %s under root %s is in the way of key %q: it is a %v, neither an object file nor a directory", p, b.dir, key, fi.Mode().Type()))
}

// resolveDir maps key segments to the directory holding their children:
// segment s is directory s+altSuffix if that exists, else directory s.
// With create (only under the commit lock) missing directories are made,
// as s+altSuffix where s is an object file; made lists the directories
// whose entries changed. Without create, ok is false when a directory is
// missing.
func (b *backend) resolveDir(op, key string, segs []string, create bool) (dir string, made []string, ok bool, err error) {
	cur := "."
	for _, s := range segs {
		e := escapeSeg(s)
		alt := path.Join(cur, e+altSuffix)
		fi, err := b.lstat(op, key, alt)
		if err != nil {
			return "", nil, false, err
		}
		if fi != nil {
			if !fi.IsDir() {
				return "", nil, false, b.conflict(op, key, alt, fi)
			}
			cur = alt
			continue
		}
		plain := path.Join(cur, e)
		if fi, err = b.lstat(op, key, plain); err != nil {
			return "", nil, false, err
		}
		next := plain
		switch {
		case fi != nil && fi.IsDir():
			cur = plain
			continue
		case fi != nil && fi.Mode().IsRegular():
			next = alt // an object "…/s" exists: its children go to "s%d"
		case fi != nil:
			return "", nil, false, b.conflict(op, key, plain, fi)
		}
		if !create {
			return "", nil, false, nil
		}
		if err := b.root.Mkdir(next, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", nil, false, b.fsError(op, key, err)
		}
		made = append(made, cur)
		cur = next
	}
	return cur, made, true, nil
}

// location is where a key's object lives, relative to the root.
type location struct {
	data, meta string
	made       []string // directories whose entries changed making it
}

// metaName is the name of the sidecar of the object file name.
func metaName(name string) string { return metaPrefix + name + metaSuffix }

func metaOf(data string) string {
	return path.Join(path.Dir(data), metaName(path.Base(data)))
}

// locate finds key's data file; exists says whether there is one. With
// create (under the commit lock) missing directories are made.
func (b *backend) locate(op, key string, create bool) (loc location, exists bool, err error) {
	segs := strings.Split(key, "/")
	dir, made, ok, err := b.resolveDir(op, key, segs[:len(segs)-1], create)
	if err != nil || !ok {
		return location{}, false, err
	}
	p := path.Join(dir, escapeSeg(segs[len(segs)-1]))
	fi, err := b.lstat(op, key, p)
	if err != nil {
		return location{}, false, err
	}
	switch {
	case fi == nil:
	case fi.Mode().IsRegular():
		exists = true
	case fi.IsDir(): // "a" when "a/…" keys exist: the object is "a/%o"
		p = path.Join(p, selfName)
		if fi, err = b.lstat(op, key, p); err != nil {
			return location{}, false, err
		}
		if fi != nil && !fi.Mode().IsRegular() {
			return location{}, false, b.conflict(op, key, p, fi)
		}
		exists = fi != nil
	default:
		return location{}, false, b.conflict(op, key, p, fi)
	}
	return location{data: p, meta: metaOf(p), made: made}, exists, nil
}

// readSidecar reads the sidecar at meta; ok is false if it is missing or
// unreadable.
func (b *backend) readSidecar(meta string) (m sidecar, ok bool) {
	f, err := b.root.OpenFile(meta, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return m, false
	}
	defer f.Close()
	js, err := io.ReadAll(io.LimitReader(f, maxSidecar))
	if err != nil || json.Unmarshal(js, &m) != nil {
		return sidecar{}, false
	}
	return m, true
}

// errReplaced: the data file being described was replaced by a Put.
var errReplaced = errors.New("object replaced while read")

// describe returns the info of the open data file f (at loc): the
// sidecar's, if it matches f's size and modification time; otherwise the
// ETag is recomputed from the content and the sidecar rewritten (under the
// commit lock, taken here unless locked says the caller holds it).
func (b *backend) describe(op, key string, f *os.File, loc location, locked bool) (sdk.ObjectInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError(op, key, err)
	}
	if !fi.Mode().IsRegular() {
		return sdk.ObjectInfo{}, sdk.PermanentError(op, key, fmt.Errorf("%s is not a regular file", loc.data))
	}
	valid := func(m sidecar, ok bool) bool {
		return ok && m.Size == fi.Size() && m.MtimeNS == fi.ModTime().UnixNano() && len(m.ETag) == 2*sha256.Size
	}
	m, ok := b.readSidecar(loc.meta)
	if valid(m, ok) {
		m.Key = key
		return m.info(), nil
	}
	// Stale (a crash between the data and sidecar renames, or the file was
	// changed behind our back) or missing: the data file wins.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return sdk.ObjectInfo{}, b.fsError(op, key, err)
	}
	repair := true
	if !locked {
		if unlock, err := b.lock(key); err == nil {
			defer unlock()
			// A Put may have been between its two renames when we
			// looked: its sidecar is in place now.
			if m, ok = b.readSidecar(loc.meta); valid(m, ok) {
				m.Key = key
				return m.info(), nil
			}
		} else {
			repair = false // a read-only root, say: serve, do not fix
		}
		// If a Put replaced f meanwhile, f's sidecar is gone: start over.
		cur, err := b.root.Lstat(loc.data)
		if err != nil || !os.SameFile(cur, fi) || cur.Size() != fi.Size() || !cur.ModTime().Equal(fi.ModTime()) {
			return sdk.ObjectInfo{}, errReplaced
		}
	}
	// Metadata of a stale sidecar is kept.
	m = sidecar{Key: key, Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano(), ETag: hex.EncodeToString(h.Sum(nil)), Metadata: m.Metadata}
	// Best effort: a read does not fail because the cache cannot be fixed.
	if !repair {
		return m.info(), nil
	}
	if tmp, err := b.writeTemp(func(w io.Writer) error { return json.NewEncoder(w).Encode(m) }); err == nil {
		if b.root.Rename(tmp, loc.meta) != nil {
			_ = b.root.Remove(tmp)
		} else {
			_ = b.syncDir(path.Dir(loc.meta))
		}
	}
	return m.info(), nil
}

// open opens key's data file and describes it. A reader that loses races
// with overwrites (see describe) starts over, and after a few tries takes
// the commit lock.
func (b *backend) open(op, key string, locked bool) (*os.File, sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return nil, sdk.ObjectInfo{}, err
	}
	for range 3 {
		f, info, err := b.openOnce(op, key, locked)
		if err != errReplaced {
			return f, info, err
		}
	}
	unlock, err := b.lock(key)
	if err != nil {
		return nil, sdk.ObjectInfo{}, b.fsError(op, key, err)
	}
	defer unlock()
	return b.openOnce(op, key, true)
}

func (b *backend) openOnce(op, key string, locked bool) (*os.File, sdk.ObjectInfo, error) {
	loc, exists, err := b.locate(op, key, false)
	if err != nil {
		return nil, sdk.ObjectInfo{}, err
	}
	if !exists {
		return nil, sdk.ObjectInfo{}, sdk.NotFound(op, key)
	}
	f, err := b.root.OpenFile(loc.data, os.O_RDONLY|noFollow, 0)
	if err != nil {
		if notExist(err) {
			err = fs.ErrNotExist // deleted meanwhile
		}
		return nil, sdk.ObjectInfo{}, b.fsError(op, key, err)
	}
	info, err := b.describe(op, key, f, loc, locked)
	if err != nil {
		f.Close()
		return nil, sdk.ObjectInfo{}, err
	}
	return f, info, nil
}

// current returns the committed object's info, or ok false if none.
func (b *backend) current(op, key string, locked bool) (info sdk.ObjectInfo, ok bool, err error) {
	f, info, err := b.open(op, key, locked)
	if errors.Is(err, sdk.ErrNotFound) {
		return info, false, nil
	}
	if err != nil {
		return info, false, err
	}
	f.Close()
	return info, true, nil
}

func (b *backend) checkPrecondition(key string, opts sdk.PutOptions, locked bool) error {
	if !opts.IfNoneMatch && opts.IfMatch == "" {
		return nil
	}
	cur, exists, err := b.current("put", key, locked)
	switch {
	case err != nil:
		return err
	case opts.IfNoneMatch && exists:
		return sdk.PreconditionFailed("put", key, "object exists (If-None-Match)")
	case opts.IfMatch != "" && !exists:
		return sdk.PreconditionFailed("put", key, "object does not exist (If-Match)")
	case opts.IfMatch != "" && cur.ETag != opts.IfMatch:
		return sdk.PreconditionFailed("put", key, fmt.Sprintf("ETag is %s, not %s (If-Match)", cur.ETag, opts.IfMatch))
	}
	return nil
}

// writeTemp writes a temp file in the root directory with fill, fsyncs it
// if configured and returns its name. Temp files are renamed into their
// key's directory (one file system), so a key's directories need only
// exist, and be chosen, under the commit lock.
func (b *backend) writeTemp(fill func(io.Writer) error) (string, error) {
	name := tmpPrefix + randHex()
	f, err := b.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	err = fill(f)
	if err == nil && b.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = b.root.Remove(name)
		return "", err
	}
	return name, nil
}

func (b *backend) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	for _, seg := range strings.Split(key, "/") {
		if e := escapeSeg(seg); len(e) > maxSegment {
			// Refused before anything is renamed: the sidecar's name
			// (metaName) must fit as well as the object's.
			return sdk.ObjectInfo{}, sdk.PermanentError("put", key, fmt.Errorf("key segment of %d bytes (escaped) is longer than %d: %w", len(e), maxSegment, syscall.ENAMETOOLONG))
		}
	}
	// Fail fast (symlinks, conflicts, preconditions) before uploading;
	// checked again, under the lock, below.
	if _, _, err := b.locate("put", key, false); err != nil {
		return sdk.ObjectInfo{}, err
	}
	if err := b.checkPrecondition(key, opts, false); err != nil {
		return sdk.ObjectInfo{}, err
	}
	var n int64
	h := sha256.New()
	data, err := b.writeTemp(func(w io.Writer) error {
		var err error
		n, err = upload(ctx, io.MultiWriter(w, h), r)
		return err
	})
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	pending := []string{data} // temp files to remove on failure
	defer func() {
		for _, p := range pending {
			_ = b.root.Remove(p)
		}
	}()
	if opts.Size >= 0 && opts.Size != n && !(opts.Size == 0 && n > 0) {
		// Size 0 may be a zero PutOptions rather than a promise.
		return sdk.ObjectInfo{}, b.fsError("put", key, fmt.Errorf("upload was %d bytes, PutOptions.Size said %d", n, opts.Size))
	}
	fi, err := b.root.Lstat(data)
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	m := sidecar{Key: key, Size: n, MtimeNS: fi.ModTime().UnixNano(), ETag: hex.EncodeToString(h.Sum(nil)), Metadata: maps.Clone(opts.Metadata)}
	meta, err := b.writeTemp(func(w io.Writer) error { return json.NewEncoder(w).Encode(m) })
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	pending = append(pending, meta)

	unlock, err := b.lock(key)
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	defer unlock()
	if err := b.checkPrecondition(key, opts, true); err != nil {
		return sdk.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	// Resolved again under the lock: a link planted while we wrote must
	// not be followed, and directories are only made here.
	loc, _, err := b.locate("put", key, true)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	// Data first: a crash before the sidecar's rename leaves a sidecar
	// that does not match the data file, which readers detect and repair.
	if err := b.root.Rename(data, loc.data); err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	pending = pending[1:]
	if err := b.root.Rename(meta, loc.meta); err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	pending = nil
	// The new entries, and the entries of directories made for them.
	for _, d := range append([]string{path.Dir(loc.data)}, loc.made...) {
		if err := b.syncDir(d); err != nil {
			return sdk.ObjectInfo{}, b.fsError("put", key, err)
		}
	}
	return m.info(), nil
}

// upload copies r to w, honouring ctx.
func upload(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, copyBuf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := r.Read(buf)
		if m > 0 {
			if _, err := w.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, uploadError{rerr}
		}
	}
}

func (b *backend) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	f, info, err := b.open("get", key, false)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	defer f.Close()
	lo, hi, err := sdk.ResolveRange(key, info.Size, opts)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	if err := copyRange(ctx, w, f, lo, hi); err != nil {
		return sdk.ObjectInfo{}, b.fsError("get", key, err)
	}
	return info, nil
}

func (b *backend) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	f, info, err := b.open("stat", key, false)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	f.Close()
	return info, nil
}

func (b *backend) Delete(ctx context.Context, key string) error {
	if err := sdk.ValidateKey(key); err != nil {
		return err
	}
	unlock, err := b.lock(key)
	if err != nil {
		return b.fsError("delete", key, err)
	}
	defer unlock()
	loc, exists, err := b.locate("delete", key, false)
	if err != nil || !exists {
		return err
	}
	// Data first: a crash before the sidecar goes leaves an orphan sidecar,
	// which no key shows, rather than an object without its metadata.
	if err := b.root.Remove(loc.data); err != nil && !notExist(err) {
		return b.fsError("delete", key, err)
	}
	if err := b.root.Remove(loc.meta); err != nil && !notExist(err) {
		return b.fsError("delete", key, err)
	}
	dir := path.Dir(loc.data)
	if err := b.syncDir(dir); err != nil {
		return b.fsError("delete", key, err)
	}
	// Remove directories left empty, up to the root (under the lock, so no
	// Put is placing a file in them).
	for d := dir; d != "."; d = path.Dir(d) {
		if b.root.Remove(d) != nil {
			break
		}
	}
	return nil
}

type listEntry struct {
	sortKey string // the key segment, with '/' appended for directories
	name    string // on disk, relative to the listed directory
	dir     bool
}

func (b *backend) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return err
	}
	// Start in the deepest directory the prefix names in full.
	start, keyBase := ".", ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		keyBase = prefix[:i+1]
		dir, _, ok, err := b.resolveDir("list", prefix, strings.Split(prefix[:i], "/"), false)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		start = dir
	}
	return b.walk(ctx, start, keyBase, prefix, fn)
}

// walk lists dir (whose keys start with keyBase) in key order: siblings
// sorted by segment, with '/' appended to directories, give byte-wise key
// order across the whole tree.
func (b *backend) walk(ctx context.Context, dir, keyBase, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := b.root.Open(dir)
	if notExist(err) {
		return nil // nothing here, or removed while we listed
	}
	if err != nil {
		return b.fsError("list", prefix, err)
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return b.fsError("list", prefix, err)
	}
	var list []listEntry
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.Type().IsDir():
			if seg, ok := unescapeSeg(strings.TrimSuffix(name, altSuffix)); ok && strings.HasSuffix(name, altSuffix) {
				list = append(list, listEntry{seg + "/", name, true})
			} else if seg, ok := unescapeSeg(name); ok {
				list = append(list, listEntry{seg + "/", name, true})
				// The object named like this directory, if any, sorts
				// as itself: before "seg-x", not at "seg/".
				if fi, err := b.root.Lstat(path.Join(dir, name, selfName)); err == nil && fi.Mode().IsRegular() {
					list = append(list, listEntry{seg, path.Join(name, selfName), false})
				}
			}
		case e.Type().IsRegular():
			if seg, ok := unescapeSeg(name); ok {
				list = append(list, listEntry{seg, name, false})
			}
		}
		// Symlinks, sidecars, temp files, the lock file and foreign names
		// are skipped.
	}
	slices.SortStableFunc(list, func(a, b listEntry) int { return strings.Compare(a.sortKey, b.sortKey) })
	for _, e := range list {
		full := keyBase + e.sortKey
		rel := path.Join(dir, e.name)
		if e.dir {
			if strings.HasPrefix(full, prefix) || strings.HasPrefix(prefix, full) {
				if err := b.walk(ctx, rel, full, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(full, prefix) {
			continue
		}
		info, ok, err := b.listInfo(full, rel)
		if err != nil {
			return err
		}
		if !ok {
			continue // deleted while we listed
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// listInfo describes the object file rel of key; ok is false if it is gone.
func (b *backend) listInfo(key, rel string) (info sdk.ObjectInfo, ok bool, err error) {
	loc := location{data: rel, meta: metaOf(rel)}
	once := func(locked bool) (sdk.ObjectInfo, bool, error) {
		f, err := b.root.OpenFile(rel, os.O_RDONLY|noFollow, 0)
		if notExist(err) {
			return sdk.ObjectInfo{}, false, nil
		}
		if err != nil {
			return sdk.ObjectInfo{}, false, b.fsError("list", key, err)
		}
		defer f.Close()
		info, err := b.describe("list", key, f, loc, locked)
		return info, err == nil, err
	}
	for range 3 {
		if info, ok, err = once(false); err != errReplaced {
			return info, ok, err
		}
	}
	unlock, err := b.lock(key)
	if err != nil {
		return sdk.ObjectInfo{}, false, b.fsError("list", key, err)
	}
	defer unlock()
	return once(true)
}

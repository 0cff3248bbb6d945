package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
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

// On-disk layout (see doc.go): a key's segments become nested directories;
// every segment is escaped ('%' → "%25"), and the object itself is a file
// named after its last segment plus objSuffix. Names holding a '%' that is
// not part of "%25" therefore never collide with keys: objects ("x%o"),
// temp files ("%t…") and the lock file ("%lock") live in separate name
// spaces, and key "a" (file "a%o") can coexist with key "a/b" (directory
// "a").
const (
	objSuffix = "%o"
	tmpPrefix = "%t"
	lockName  = "%lock"
)

// Object file format: the content, then a JSON trailer (objTrailer), then
// the trailer's length (uint32, big-endian) and trailerMagic. One file per
// object means one rename publishes content, ETag and metadata together.
const trailerMagic = "SKYLOOP\x01"

const tailLen = 4 + len(trailerMagic)

type objTrailer struct {
	Key      string            `json:"key"`
	Size     int64             `json:"size"`
	ETag     string            `json:"etag"` // hex SHA-256 of the content
	Modified time.Time         `json:"modified"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

var diskInfo = sdk.Info{
	Name:     "disk",
	Version:  "0.1.0",
	Protocol: sdk.ProtocolVersion,
	Capabilities: sdk.Capabilities{
		ConditionalWrites: true,
		AtomicReplace:     true,
		RangedReads:       true,
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

// paths maps a validated key to its directory and object file, relative to
// the root.
func paths(key string) (dir, file string) {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = escapeSeg(s)
	}
	segs[len(segs)-1] += objSuffix
	file = path.Join(segs...)
	dir = path.Dir(file)
	return dir, file
}

// checkNoSymlinks refuses a path if any existing component of it (under
// the root) is a symbolic link. os.Root already refuses links that leave
// the root; this refuses links altogether, so that a key names one file.
func (b *backend) checkNoSymlinks(op, key, rel string) error {
	if rel == "." {
		return nil
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := path.Join(parts[:i+1]...)
		fi, err := b.root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		if err != nil {
			return b.fsError(op, key, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return sdk.PermanentError(op, key, fmt.Errorf("refusing path %s under root %s: it is a symbolic link", p, b.dir))
		}
	}
	return nil
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
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EROFS),
		strings.Contains(err.Error(), "path escapes from parent"):
		return sdk.PermanentError(op, key, err)
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

// readTrailer reads the trailer of an open object file.
func readTrailer(f *os.File) (objTrailer, error) {
	var t objTrailer
	fi, err := f.Stat()
	if err != nil {
		return t, err
	}
	if !fi.Mode().IsRegular() {
		return t, fmt.Errorf("%s is not a regular file", fi.Name())
	}
	size := fi.Size()
	if size < int64(tailLen) {
		return t, fmt.Errorf("corrupt object file (%d bytes, no trailer)", size)
	}
	var tail [tailLen]byte
	if _, err := f.ReadAt(tail[:], size-int64(tailLen)); err != nil {
		return t, err
	}
	if string(tail[4:]) != trailerMagic {
		return t, errors.New("corrupt object file (bad trailer magic)")
	}
	n := int64(binary.BigEndian.Uint32(tail[:4]))
	if n > size-int64(tailLen) || n > 1<<20 {
		return t, fmt.Errorf("corrupt object file (trailer of %d bytes)", n)
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-int64(tailLen)-n); err != nil {
		return t, err
	}
	if err := json.Unmarshal(buf, &t); err != nil {
		return t, fmt.Errorf("corrupt object file trailer: %w", err)
	}
	if t.Size != size-int64(tailLen)-n {
		return t, fmt.Errorf("corrupt object file (trailer says %d bytes, file holds %d)", t.Size, size-int64(tailLen)-n)
	}
	return t, nil
}

func (t objTrailer) info() sdk.ObjectInfo {
	return sdk.ObjectInfo{Key: t.Key, Size: t.Size, ETag: t.ETag, Modified: t.Modified, Metadata: t.Metadata}
}

// open opens key's object file and reads its trailer.
func (b *backend) open(op, key string) (*os.File, objTrailer, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return nil, objTrailer{}, err
	}
	_, file := paths(key)
	if err := b.checkNoSymlinks(op, key, file); err != nil {
		return nil, objTrailer{}, err
	}
	f, err := b.root.OpenFile(file, os.O_RDONLY|noFollow, 0)
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			err = fs.ErrNotExist
		}
		return nil, objTrailer{}, b.fsError(op, key, err)
	}
	t, err := readTrailer(f)
	if err != nil {
		f.Close()
		return nil, objTrailer{}, sdk.PermanentError(op, key, err)
	}
	t.Key = key
	return f, t, nil
}

// current returns the committed object's trailer, or ok false if none.
func (b *backend) current(op, key string) (t objTrailer, ok bool, err error) {
	f, t, err := b.open(op, key)
	if errors.Is(err, sdk.ErrNotFound) {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	f.Close()
	return t, true, nil
}

func (b *backend) checkPrecondition(key string, opts sdk.PutOptions) error {
	if !opts.IfNoneMatch && opts.IfMatch == "" {
		return nil
	}
	cur, exists, err := b.current("put", key)
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

// createTemp creates a temp file in dir, creating dir if missing (created
// says so, and that its ancestors' entries need an fsync too). A concurrent
// Delete may remove an empty dir between MkdirAll and the create: retry.
func (b *backend) createTemp(dir string) (f *os.File, name string, created bool, err error) {
	for range 5 {
		if _, serr := b.root.Stat(dir); serr != nil {
			created = true
		}
		if err = b.root.MkdirAll(dir, 0o755); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, "", false, err
		}
		name = path.Join(dir, tmpPrefix+randHex())
		f, err = b.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return f, name, created, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", false, err
		}
	}
	return nil, "", false, err
}

const copyBuf = 256 << 10

// uploadError is a failure of the caller's reader.
type uploadError struct{ err error }

func (e uploadError) Error() string { return "reading upload: " + e.err.Error() }
func (e uploadError) Unwrap() error { return e.err }

func (b *backend) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	dir, file := paths(key)
	if err := b.checkNoSymlinks("put", key, file); err != nil {
		return sdk.ObjectInfo{}, err
	}
	// Fail fast before uploading; checked again, under the lock, below.
	if err := b.checkPrecondition(key, opts); err != nil {
		return sdk.ObjectInfo{}, err
	}
	f, tmp, created, err := b.createTemp(dir)
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			_ = b.root.Remove(tmp)
		}
	}()
	t, err := b.write(ctx, f, key, r, opts)
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	if err := f.Close(); err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}

	unlock, err := b.lock(key)
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	err = b.checkPrecondition(key, opts)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		// Checked again: a link planted while we wrote must not be followed.
		err = b.checkNoSymlinks("put", key, file)
	}
	if err == nil {
		err = b.root.Rename(tmp, file)
		committed = err == nil
	}
	unlock()
	if err != nil {
		return sdk.ObjectInfo{}, b.fsError("put", key, err)
	}
	if b.fsync {
		// The new entry, and the entries of directories made for it.
		for d := dir; ; d = path.Dir(d) {
			if err := b.syncDir(d); err != nil {
				return sdk.ObjectInfo{}, b.fsError("put", key, err)
			}
			if !created || d == "." {
				break
			}
		}
	}
	return t.info(), nil
}

// write copies r into f, honouring ctx, then appends the trailer and
// fsyncs if configured.
func (b *backend) write(ctx context.Context, f *os.File, key string, r io.Reader, opts sdk.PutOptions) (objTrailer, error) {
	h := sha256.New()
	buf := make([]byte, copyBuf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return objTrailer{}, err
		}
		m, rerr := r.Read(buf)
		if m > 0 {
			h.Write(buf[:m])
			if _, err := f.Write(buf[:m]); err != nil {
				return objTrailer{}, err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return objTrailer{}, uploadError{rerr}
		}
	}
	if opts.Size >= 0 && opts.Size != n && !(opts.Size == 0 && n > 0) {
		// Size 0 may be a zero PutOptions rather than a promise.
		return objTrailer{}, fmt.Errorf("upload was %d bytes, PutOptions.Size said %d", n, opts.Size)
	}
	t := objTrailer{
		Key:      key,
		Size:     n,
		ETag:     hex.EncodeToString(h.Sum(nil)),
		Modified: time.Now().UTC(),
		Metadata: maps.Clone(opts.Metadata),
	}
	js, err := json.Marshal(t)
	if err != nil {
		return objTrailer{}, err
	}
	js = binary.BigEndian.AppendUint32(js, uint32(len(js)))
	js = append(js, trailerMagic...)
	if _, err := f.Write(js); err != nil {
		return objTrailer{}, err
	}
	if b.fsync {
		if err := f.Sync(); err != nil {
			return objTrailer{}, err
		}
	}
	return t, nil
}

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

func (b *backend) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	f, t, err := b.open("get", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	defer f.Close()
	if opts.Offset < 0 || opts.Offset > t.Size {
		return sdk.ObjectInfo{}, sdk.PermanentError("get", key,
			fmt.Errorf("range offset %d outside object of %d bytes", opts.Offset, t.Size))
	}
	lo, hi := opts.Offset, t.Size
	if opts.Length > 0 || (opts.Length == 0 && opts.Offset != 0) {
		hi = lo + min(opts.Length, t.Size-lo) // no overflow for huge lengths
	}
	if err := copyRange(ctx, w, f, lo, hi); err != nil {
		return sdk.ObjectInfo{}, b.fsError("get", key, err)
	}
	return t.info(), nil
}

func (b *backend) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	f, t, err := b.open("stat", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	f.Close()
	return t.info(), nil
}

func (b *backend) Delete(ctx context.Context, key string) error {
	if err := sdk.ValidateKey(key); err != nil {
		return err
	}
	dir, file := paths(key)
	if err := b.checkNoSymlinks("delete", key, file); err != nil {
		return err
	}
	unlock, err := b.lock(key)
	if err != nil {
		return b.fsError("delete", key, err)
	}
	err = b.root.Remove(file)
	unlock()
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return b.fsError("delete", key, err)
	}
	if err := b.syncDir(dir); err != nil {
		return b.fsError("delete", key, err)
	}
	// Remove directories left empty, up to the root. Put retries if it
	// loses a race with this.
	for d := dir; d != "."; d = path.Dir(d) {
		if b.root.Remove(d) != nil {
			break
		}
	}
	return nil
}

type listEntry struct {
	sortKey string // the key segment, with '/' appended for directories
	name    string // on disk
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
		segs := strings.Split(prefix[:i], "/")
		for j, s := range segs {
			segs[j] = escapeSeg(s)
		}
		start = path.Join(segs...)
		if err := b.checkNoSymlinks("list", prefix, start); err != nil {
			return err
		}
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
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
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
			if seg, ok := unescapeSeg(name); ok {
				list = append(list, listEntry{seg + "/", name, true})
			}
		case e.Type().IsRegular() && strings.HasSuffix(name, objSuffix):
			if seg, ok := unescapeSeg(strings.TrimSuffix(name, objSuffix)); ok {
				list = append(list, listEntry{seg, name, false})
			}
		}
		// Symlinks, temp files, the lock file and foreign names are skipped.
	}
	slices.SortFunc(list, func(a, b listEntry) int { return strings.Compare(a.sortKey, b.sortKey) })
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
		f, err := b.root.OpenFile(rel, os.O_RDONLY|noFollow, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted while we listed
		}
		if err != nil {
			return b.fsError("list", full, err)
		}
		t, err := readTrailer(f)
		f.Close()
		if err != nil {
			return sdk.PermanentError("list", full, err)
		}
		t.Key = full
		if err := fn(t.info()); err != nil {
			return err
		}
	}
	return nil
}

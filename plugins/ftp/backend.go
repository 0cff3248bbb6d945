package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jlaffaye/ftp"

	"github.com/skyloop-engine/skyloop/sdk"
)

var ftpInfo = sdk.Info{
	Name:     "ftp",
	Version:  "0.1.0",
	Protocol: sdk.ProtocolVersion,
	Capabilities: sdk.Capabilities{
		ConditionalWrites: true, // key lock directories, lock.go
		AtomicReplace:     true, // temp file + RNFR/RNTO
		RangedReads:       true, // REST
		NestedKeys:        false,
	},
}

type backend struct {
	cfg  *config
	root string // absolute directory on the server
	pool *pool
	log  hclog.Logger

	mu       sync.Mutex
	dirs     map[string]bool // server directories known to exist
	pending  map[string]bool // temp files a failed Put could not remove
	suspects map[string]bool // objects whose sidecar may be stale

	closeOnce sync.Once

	// Test hooks: beforeLock runs after the uploads, before the lock;
	// afterLock after acquiring it; an error from afterLock ends the Put
	// at once, leaving the lock held (a writer that died holding it).
	beforeLock func(key string)
	afterLock  func(ctx context.Context, key string) error
}

// holdLockEnv, set to 1 in a plugin process's environment (by tests
// only), makes every Put stop once it holds its key's lock and wait there
// until the process is killed: a writer that dies holding the lock.
const holdLockEnv = "SKYLOOP_FTP_TEST_HOLD_LOCK"

var errHoldingLock = errors.New("ftp: stopped holding the key lock (" + holdLockEnv + ")")

// newBackend checks the settings offline (sdk.ErrInvalidSettings), then
// connects, logs in, resolves and creates the root and writes and deletes
// a probe file there. A server that cannot be reached fails as retryable
// (the host retries in the background); a refused login, a certificate
// that does not verify or an unwritable root fail as permanent, with a
// message that says what to change.
func newBackend(ctx context.Context, settings map[string]string) (sdk.Backend, error) {
	cfg, err := parseSettings(settings)
	if err != nil {
		return nil, err
	}
	b := &backend{
		cfg:      cfg,
		pool:     newPool(cfg.conns),
		log:      hclog.New(&hclog.LoggerOptions{Name: "ftp", Output: os.Stderr, Level: hclog.Info, JSONFormat: true}),
		dirs:     map[string]bool{},
		pending:  map[string]bool{},
		suspects: map[string]bool{},
	}
	if os.Getenv(holdLockEnv) == "1" {
		b.afterLock = func(ctx context.Context, key string) error {
			<-ctx.Done()
			return errHoldingLock
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 4*cfg.timeout)
	defer cancel()
	if err := b.probe(pctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *backend) probe(ctx context.Context) error {
	return b.with(ctx, func(s *session, _ *bool) error {
		root := b.cfg.root
		if !strings.HasPrefix(root, "/") {
			home, err := s.sc.CurrentDir()
			if err != nil {
				return b.classify(ctx, "configure", "", fmt.Errorf("PWD: %w", err))
			}
			root = path.Join(home, root)
		}
		b.root = path.Clean(root)
		// Create the root, one level at a time (MKD fails where it exists).
		parts := strings.Split(strings.Trim(b.root, "/"), "/")
		cur := "/"
		for _, part := range parts {
			if part == "" {
				continue
			}
			cur = path.Join(cur, part)
			if err := s.sc.MakeDir(cur); err != nil && connError(err) {
				return b.classify(ctx, "configure", "", err)
			}
		}
		probe := path.Join(b.root, tmpPrefix+"probe-"+randHex())
		if err := s.sc.Stor(probe, strings.NewReader("probe")); err != nil {
			if connError(err) || code(err) < 500 {
				return b.classify(ctx, "configure", "", err)
			}
			return sdk.PermanentError("configure", "", fmt.Errorf("ftp: root %s on %s cannot be created or written as %q (%v): check root and the account's permissions", b.root, b.cfg.addr, b.cfg.user, err))
		}
		if err := s.sc.Delete(probe); err != nil {
			return sdk.PermanentError("configure", "", fmt.Errorf("ftp: cannot delete in root %s on %s as %q (%v): the plugin needs to delete and rename files", b.root, b.cfg.addr, b.cfg.user, err))
		}
		b.mu.Lock()
		b.dirs[b.root] = true
		b.mu.Unlock()
		return nil
	})
}

// Close logs out of every idle connection. It is idempotent.
func (b *backend) Close() error {
	b.closeOnce.Do(b.pool.close)
	return nil
}

func (b *backend) Info(ctx context.Context) (sdk.Info, error) { return ftpInfo, nil }

func randHex() string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// where locates a key on the server.
type where struct {
	dir, name     string
	final, meta   string
	tmpData, tmpM string
}

func (b *backend) locate(op, key string) (where, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return where{}, err
	}
	segs := strings.Split(key, "/")
	enc := make([]string, len(segs))
	for i, s := range segs {
		enc[i] = escapeSeg(s)
		if len(enc[i]) > maxName {
			return where{}, sdk.PermanentError(op, key, fmt.Errorf("key segment of %d bytes once escaped is longer than %d, the longest file name this plugin stores", len(enc[i]), maxName))
		}
	}
	dir := path.Join(append([]string{b.root}, enc[:len(enc)-1]...)...)
	name := enc[len(enc)-1]
	id := randHex()
	return where{
		dir: dir, name: name,
		final:   path.Join(dir, name),
		meta:    path.Join(dir, "."+name+metaSuffix),
		tmpData: path.Join(dir, tmpPrefix+id),
		tmpM:    path.Join(dir, tmpPrefix+id+"m"),
	}, nil
}

// nestedError is the permanent error for "a" and "a/b".
func nestedError(key, object string) error {
	return &sdk.Error{Op: "put", Key: key, Kind: sdk.ErrUnsupported, Err: fmt.Errorf(
		"ftp: %s is an object and a directory of other keys at once, which this sink cannot store (Capabilities.NestedKeys is false): the key %q conflicts with what is stored", object, key)}
}

// mkdir makes sure dir (under the root) exists, making missing levels.
func (b *backend) mkdir(s *session, key, dir string) error {
	b.mu.Lock()
	known := b.dirs[dir]
	b.mu.Unlock()
	if known {
		return nil
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(dir, b.root), "/")
	cur := b.root
	keyPath := ""
	for _, part := range strings.Split(rel, "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		seg, _ := unescapeSeg(part)
		keyPath = path.Join(keyPath, seg)
		b.mu.Lock()
		known := b.dirs[cur]
		b.mu.Unlock()
		if known {
			continue
		}
		if err := s.sc.MakeDir(cur); err != nil {
			if connError(err) {
				return err
			}
			// Exists, as a directory (fine) or as a file (an object).
			if _, serr := s.sc.FileSize(cur); serr == nil {
				return nestedError(key, fmt.Sprintf("%q", keyPath))
			} else if connError(serr) {
				return serr
			}
		}
		b.mu.Lock()
		b.dirs[cur] = true
		b.mu.Unlock()
	}
	return nil
}

// forgetDirs drops dir and everything below it from the cache.
func (b *backend) forgetDirs(dir string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for d := range b.dirs {
		if d == dir || strings.HasPrefix(d, dir+"/") {
			delete(b.dirs, d)
		}
	}
}

// sidecar is the JSON beside each object (".NAME%m"): the object's size
// and ETag (hex SHA-256 of its bytes), when it was written, and its
// metadata. It is trusted only while its size is the object file's.
type sidecar struct {
	Key        string            `json:"key"`
	Size       int64             `json:"size"`
	ETag       string            `json:"etag"`
	ModifiedNS int64             `json:"modified_ns"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

const maxSidecar = 1 << 20

// readSidecar reads the sidecar at meta; ok is false if there is none.
func (b *backend) readSidecar(s *session, meta string) (m sidecar, ok bool, err error) {
	r, err := s.sc.Retr(meta)
	if err != nil {
		if connError(err) {
			return m, false, err
		}
		return m, false, nil
	}
	data, rerr := io.ReadAll(io.LimitReader(r, maxSidecar))
	cerr := r.Close()
	if rerr != nil {
		return m, false, rerr
	}
	if cerr != nil && connError(cerr) {
		return m, false, cerr
	}
	if json.Unmarshal(data, &m) != nil {
		return sidecar{}, false, nil
	}
	return m, true, nil
}

// hashFile reads the whole object: its SHA-256 and size.
func hashFile(s *session, p string) (etag string, n int64, err error) {
	r, err := s.sc.Retr(p)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err = io.Copy(h, r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// describe is what is stored under w: exists false when no object file.
// trust false (or a sidecar that does not match the file's size) makes
// the ETag come from the content.
func (b *backend) describe(s *session, key string, w where, trust bool) (info sdk.ObjectInfo, exists bool, err error) {
	size, err := s.sc.FileSize(w.final)
	if err != nil {
		if connError(err) {
			return info, false, err
		}
		return info, false, nil // missing, or a directory of other keys
	}
	m, ok, err := b.readSidecar(s, w.meta)
	if err != nil {
		return info, false, err
	}
	b.mu.Lock()
	suspect := b.suspects[w.final]
	b.mu.Unlock()
	info = sdk.ObjectInfo{Key: key, Size: size}
	if ok && trust && !suspect && m.Size == size && m.ETag != "" {
		info.ETag, info.Modified, info.Metadata = m.ETag, time.Unix(0, m.ModifiedNS).UTC(), maps.Clone(m.Metadata)
		return info, true, nil
	}
	// No sidecar, or a stale one: the content decides.
	etag, n, err := hashFile(s, w.final)
	if err != nil {
		if connError(err) {
			return info, false, err
		}
		return info, false, nil // deleted meanwhile
	}
	info.ETag, info.Size = etag, n
	if ok {
		info.Metadata = maps.Clone(m.Metadata)
	}
	if t, err := s.sc.GetTime(w.final); err == nil {
		info.Modified = t.UTC()
	}
	return info, true, nil
}

// bodyReader hashes and counts the upload, fails once ctx is done, and
// keeps the caller's reader's own error apart from the network's.
type bodyReader struct {
	ctx     context.Context
	r       io.Reader
	h       hash.Hash
	n       int64
	started bool
	rerr    error
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	r.started = true
	n, err := r.r.Read(p)
	if n > 0 {
		r.h.Write(p[:n])
		r.n += int64(n)
	}
	if err != nil && err != io.EOF {
		r.rerr = err
	}
	return n, err
}

func (b *backend) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	w, err := b.locate("put", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	body := &bodyReader{ctx: ctx, r: r, h: sha256.New()}
	err = b.with(ctx, func(s *session, touched *bool) error {
		if err := b.mkdir(s, key, w.dir); err != nil {
			return err
		}
		if opts.IfNoneMatch {
			// Fail fast, before the upload (checked again under the lock).
			if _, err := s.sc.FileSize(w.final); err == nil {
				return sdk.PreconditionFailed("put", key, "object exists (If-None-Match)")
			} else if connError(err) {
				return err
			}
		}
		err := s.sc.Stor(w.tmpData, body)
		if err != nil && !body.started && !connError(err) {
			// The directory went away (a Delete pruned it): make it again.
			b.forgetDirs(w.dir)
			if err := b.mkdir(s, key, w.dir); err != nil {
				return err
			}
			err = s.sc.Stor(w.tmpData, body)
		}
		*touched = body.started
		return err
	})
	if err == nil && body.rerr != nil {
		err = body.rerr // the server may have acknowledged the truncated upload
	}
	if err != nil {
		b.discard(w.tmpData)
		switch {
		case ctx.Err() != nil:
			return sdk.ObjectInfo{}, sdk.PermanentError("put", key, fmt.Errorf("%w (%v)", ctx.Err(), err))
		case body.rerr != nil:
			return sdk.ObjectInfo{}, sdk.PermanentError("put", key, fmt.Errorf("reading the payload: %w", body.rerr))
		}
		return sdk.ObjectInfo{}, b.classify(ctx, "put", key, err)
	}
	n := body.n
	if opts.Size > 0 && opts.Size != n {
		b.discard(w.tmpData)
		return sdk.ObjectInfo{}, sdk.PermanentError("put", key, fmt.Errorf("upload was %d bytes, PutOptions.Size said %d", n, opts.Size))
	}
	m := sidecar{Key: key, Size: n, ETag: hex.EncodeToString(body.h.Sum(nil)), ModifiedNS: time.Now().UnixNano(), Metadata: maps.Clone(opts.Metadata)}
	js, _ := json.Marshal(m)
	err = b.with(ctx, func(s *session, _ *bool) error { return s.sc.Stor(w.tmpM, bytes.NewReader(js)) })
	if err != nil {
		b.discard(w.tmpData, w.tmpM)
		return sdk.ObjectInfo{}, b.classify(ctx, "put", key, err)
	}
	if b.beforeLock != nil {
		b.beforeLock(key)
	}
	l, err := b.lock(ctx, key, w.dir, w.name)
	if err != nil {
		b.discard(w.tmpData, w.tmpM)
		return sdk.ObjectInfo{}, err
	}
	if b.afterLock != nil {
		if err := b.afterLock(ctx, key); err != nil {
			return sdk.ObjectInfo{}, err // as if the process died here
		}
	}
	defer l.release()
	conditional := opts.IfNoneMatch || opts.IfMatch != ""
	dataMoved := false
	err = b.with(ctx, func(s *session, touched *bool) error {
		if conditional {
			cur, _, err := b.describe(s, key, w, !l.broke)
			if err != nil {
				return err
			}
			if err := sdk.CheckPrecondition(key, cur.ETag, opts); err != nil {
				return err
			}
		}
		if err := l.check(); err != nil {
			return err
		}
		*touched = true // from here on a retry would not know what was done
		if err := s.sc.Rename(w.tmpData, w.final); err != nil {
			if !connError(err) && s.sc.ChangeDir(w.final) == nil {
				return nestedError(key, fmt.Sprintf("%q", key))
			}
			return err
		}
		dataMoved = true
		if err := l.check(); err != nil {
			return err
		}
		if err := s.sc.Rename(w.tmpM, w.meta); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		if dataMoved {
			// The new bytes are in place beside the old sidecar: trust no
			// sidecar of this key until it is written again, and remove
			// the old one if the server still answers.
			b.mu.Lock()
			b.suspects[w.final] = true
			b.mu.Unlock()
			b.discard(w.meta)
		}
		b.discard(w.tmpData, w.tmpM)
		if errors.Is(err, errHeldTooLong) {
			return sdk.ObjectInfo{}, sdk.RetryableError("put", key, err)
		}
		return sdk.ObjectInfo{}, b.classify(ctx, "put", key, err)
	}
	b.mu.Lock()
	delete(b.suspects, w.final)
	b.mu.Unlock()
	b.sweep(ctx)
	return sdk.ObjectInfo{Key: key, Size: n, ETag: m.ETag, Modified: time.Unix(0, m.ModifiedNS).UTC(), Metadata: maps.Clone(opts.Metadata)}, nil
}

func (b *backend) setPending(p string, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if on {
		b.pending[p] = true
	} else {
		delete(b.pending, p)
	}
}

// discard deletes files of a failed Put on a fresh context (the caller's
// may be cancelled); what cannot be deleted now stays pending for the
// next successful Put's sweep. Temp names are hidden from List either way.
func (b *backend) discard(paths ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.timeout)
	defer cancel()
	for _, p := range paths {
		b.setPending(p, true) // until deleted
	}
	b.sweepPaths(ctx, paths)
}

// sweep retries deleting the temp files failed Puts left behind.
func (b *backend) sweep(ctx context.Context) {
	b.mu.Lock()
	var todo []string
	for p := range b.pending {
		todo = append(todo, p)
	}
	b.mu.Unlock()
	if len(todo) > 0 {
		b.sweepPaths(ctx, todo)
	}
}

func (b *backend) sweepPaths(ctx context.Context, paths []string) {
	_ = b.with(ctx, func(s *session, _ *bool) error {
		for _, p := range paths {
			err := s.sc.Delete(p)
			if err != nil && connError(err) {
				return err
			}
			b.setPending(p, false) // deleted, or not there
		}
		return nil
	})
}

// callerWriter marks the operation touched at the first byte written and
// tells the caller's write errors apart.
type callerWriter struct {
	w       io.Writer
	touched *bool
	werr    error
}

func (c *callerWriter) Write(p []byte) (int, error) {
	*c.touched = true
	n, err := c.w.Write(p)
	if err != nil {
		c.werr = err
	}
	return n, err
}

func (b *backend) Get(ctx context.Context, key string, wr io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	w, err := b.locate("get", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	var info sdk.ObjectInfo
	var cw *callerWriter
	err = b.with(ctx, func(s *session, touched *bool) error {
		cw = &callerWriter{w: wr, touched: touched}
		size, err := s.sc.FileSize(w.final)
		if err != nil {
			if connError(err) {
				return err
			}
			return sdk.NotFound("get", key)
		}
		m, ok, err := b.readSidecar(s, w.meta)
		if err != nil {
			return err
		}
		lo, hi, err := sdk.ResolveRange(key, size, opts)
		if err != nil {
			return err
		}
		b.mu.Lock()
		suspect := b.suspects[w.final]
		b.mu.Unlock()
		valid := ok && !suspect && m.Size == size && m.ETag != ""
		info = sdk.ObjectInfo{Key: key, Size: size}
		if ok {
			info.Modified, info.Metadata = time.Unix(0, m.ModifiedNS).UTC(), maps.Clone(m.Metadata)
		}
		if valid {
			info.ETag = m.ETag
		}
		full := lo == 0 && hi == size
		if !full && !valid {
			d, exists, err := b.describe(s, key, w, false)
			if err != nil {
				return err
			}
			if !exists {
				return sdk.NotFound("get", key)
			}
			info.ETag = d.ETag
		}
		if hi == lo && !full {
			return nil
		}
		resp, err := s.sc.RetrFrom(w.final, uint64(lo))
		if err != nil {
			if connError(err) {
				return err
			}
			return sdk.NotFound("get", key) // deleted meanwhile
		}
		if full {
			// The whole object: its ETag and size come from the bytes
			// themselves, so they describe what was written even when
			// the object was replaced since SIZE.
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(cw, h), resp)
			cerr := resp.Close()
			if err != nil {
				return err
			}
			if cerr != nil {
				return cerr
			}
			etag := hex.EncodeToString(h.Sum(nil))
			if etag != m.ETag {
				info.Modified, info.Metadata = time.Time{}, nil // another version's
				if t, err := s.sc.GetTime(w.final); err == nil {
					info.Modified = t.UTC()
				}
			}
			info.Size, info.ETag = n, etag
			return nil
		}
		_, err = io.CopyN(cw, resp, hi-lo)
		if err != nil {
			resp.Close()
			return err
		}
		// Closed early: the server may answer 426, which is fine, or
		// (some servers, over TLS) not at all; the bytes are delivered
		// either way, and a session that does not answer is discarded.
		if hi < size && s.ctrl != nil {
			s.ctrl.until.Store(time.Now().Add(drainWait + time.Second).UnixNano())
		}
		if cerr := resp.Close(); cerr != nil && connError(cerr) {
			s.kill()
		}
		if s.ctrl != nil {
			s.ctrl.until.Store(0)
		}
		return nil
	})
	if err != nil {
		if cw != nil && cw.werr != nil {
			return sdk.ObjectInfo{}, sdk.PermanentError("get", key, fmt.Errorf("writing to caller: %w", cw.werr))
		}
		return sdk.ObjectInfo{}, b.classify(ctx, "get", key, err)
	}
	return info, nil
}

func (b *backend) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	w, err := b.locate("stat", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	var info sdk.ObjectInfo
	var exists bool
	err = b.with(ctx, func(s *session, _ *bool) error {
		var err error
		info, exists, err = b.describe(s, key, w, true)
		return err
	})
	if err != nil {
		return sdk.ObjectInfo{}, b.classify(ctx, "stat", key, err)
	}
	if !exists {
		return sdk.ObjectInfo{}, sdk.NotFound("stat", key)
	}
	return info, nil
}

func (b *backend) Delete(ctx context.Context, key string) error {
	w, err := b.locate("delete", key)
	if err != nil {
		return err
	}
	exists := false
	err = b.with(ctx, func(s *session, _ *bool) error {
		_, err := s.sc.FileSize(w.final)
		if err != nil && connError(err) {
			return err
		}
		exists = err == nil
		return nil
	})
	if err != nil {
		return b.classify(ctx, "delete", key, err)
	}
	if !exists {
		return nil
	}
	l, err := b.lock(ctx, key, w.dir, w.name)
	if err != nil {
		return err
	}
	err = b.with(ctx, func(s *session, touched *bool) error {
		*touched = true
		if err := s.sc.Delete(w.final); err != nil && connError(err) {
			return err
		}
		if err := s.sc.Delete(w.meta); err != nil && connError(err) {
			return err
		}
		return nil
	})
	l.release()
	if err != nil {
		return b.classify(ctx, "delete", key, err)
	}
	b.mu.Lock()
	delete(b.suspects, w.final)
	b.mu.Unlock()
	// Remove directories left empty, up to the root (RMD refuses the
	// others; a Put that loses its directory this way makes it again).
	_ = b.with(ctx, func(s *session, _ *bool) error {
		for d := w.dir; d != b.root && strings.HasPrefix(d, b.root+"/"); d = path.Dir(d) {
			if err := s.sc.RemoveDir(d); err != nil {
				if connError(err) {
					return err
				}
				break
			}
			b.forgetDirs(d)
		}
		return nil
	})
	return nil
}

func (b *backend) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return err
	}
	keyBase := ""
	start := b.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		keyBase = prefix[:i+1]
		for _, seg := range strings.Split(prefix[:i], "/") {
			start = path.Join(start, escapeSeg(seg))
		}
	}
	if start != b.root {
		// LIST of a file lists the file: make sure start is a directory.
		isDir := false
		err := b.with(ctx, func(s *session, _ *bool) error {
			err := s.sc.ChangeDir(start)
			if err != nil && connError(err) {
				return err
			}
			isDir = err == nil
			return nil
		})
		if err != nil {
			return b.classify(ctx, "list", prefix, err)
		}
		if !isDir {
			return nil
		}
	}
	var infos []sdk.ObjectInfo
	var walk func(dir, base string) error
	walk = func(dir, base string) error {
		var entries []*ftp.Entry
		err := b.with(ctx, func(s *session, _ *bool) error {
			var err error
			entries, err = s.sc.List(dir)
			if err != nil && !connError(err) {
				entries, err = nil, nil // no such directory
			}
			return err
		})
		if err != nil {
			return b.classify(ctx, "list", prefix, err)
		}
		for _, e := range entries {
			seg, ok := unescapeSeg(path.Base(e.Name))
			if !ok {
				continue // ".", "..", the plugin's own files, foreign names
			}
			full := base + seg
			switch e.Type {
			case ftp.EntryTypeFolder:
				if strings.HasPrefix(full+"/", prefix) || strings.HasPrefix(prefix, full+"/") {
					if err := walk(path.Join(dir, path.Base(e.Name)), full+"/"); err != nil {
						return err
					}
				}
			case ftp.EntryTypeFile:
				if strings.HasPrefix(full, prefix) {
					infos = append(infos, sdk.ObjectInfo{Key: full, Size: int64(e.Size), Modified: e.Time.UTC()})
				}
			}
		}
		return nil
	}
	if err := walk(start, keyBase); err != nil {
		return err
	}
	// Every session is back in the pool: fn may call the backend.
	return sdk.ListSorted(ctx, prefix, infos, fn)
}

package synctest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// NewMemoryBackend returns an empty in-memory sdk.Backend with every
// capability. It is the reference implementation the suite is tested
// against: it validates keys itself, reads the upload into a private buffer
// before publishing it (so failed and cancelled uploads leave nothing
// behind), and evaluates preconditions and the replacement under one lock.
func NewMemoryBackend() sdk.Backend {
	return &memoryBackend{objects: map[string]*memObject{}}
}

type memObject struct {
	data []byte
	info sdk.ObjectInfo
}

type memoryBackend struct {
	mu      sync.RWMutex
	objects map[string]*memObject
}

func (m *memoryBackend) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:     "memory",
		Version:  "0.1.0",
		Protocol: sdk.ProtocolVersion,
		Capabilities: sdk.Capabilities{
			ConditionalWrites: true,
			AtomicReplace:     true,
			RangedReads:       true,
		},
	}, nil
}

// ctxReader fails a Read once ctx is done, so a cancelled upload stops at
// the next chunk.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (m *memoryBackend) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	if err := m.checkPrecondition(key, opts); err != nil { // fail fast, checked again below
		return sdk.ObjectInfo{}, err
	}
	var buf bytes.Buffer
	if opts.Size > 0 && opts.Size < 1<<30 {
		buf.Grow(int(opts.Size))
	}
	if _, err := io.Copy(&buf, ctxReader{ctx, r}); err != nil {
		return sdk.ObjectInfo{}, &sdk.Error{Op: "put", Key: key, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return sdk.ObjectInfo{}, &sdk.Error{Op: "put", Key: key, Err: err}
	}
	sum := sha256.Sum256(buf.Bytes())
	obj := &memObject{data: buf.Bytes(), info: sdk.ObjectInfo{
		Key:      key,
		Size:     int64(buf.Len()),
		ETag:     hex.EncodeToString(sum[:]),
		Modified: time.Now(),
		Metadata: maps.Clone(opts.Metadata),
	}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkPreconditionLocked(key, opts); err != nil {
		return sdk.ObjectInfo{}, err
	}
	m.objects[key] = obj
	return cloneInfo(obj.info), nil
}

func (m *memoryBackend) checkPrecondition(key string, opts sdk.PutOptions) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.checkPreconditionLocked(key, opts)
}

func (m *memoryBackend) checkPreconditionLocked(key string, opts sdk.PutOptions) error {
	cur, exists := m.objects[key]
	switch {
	case opts.IfNoneMatch && exists:
		return sdk.PreconditionFailed("put", key, "object exists (If-None-Match)")
	case opts.IfMatch != "" && !exists:
		return sdk.PreconditionFailed("put", key, "object does not exist (If-Match)")
	case opts.IfMatch != "" && cur.info.ETag != opts.IfMatch:
		return sdk.PreconditionFailed("put", key, fmt.Sprintf("ETag is %s, not %s (If-Match)", cur.info.ETag, opts.IfMatch))
	}
	return nil
}

func (m *memoryBackend) lookup(op, key string) (*memObject, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	obj, ok := m.objects[key]
	if !ok {
		return nil, sdk.NotFound(op, key)
	}
	return obj, nil // objects are immutable once published
}

func (m *memoryBackend) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	obj, err := m.lookup("get", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	lo, hi, err := resolveRange(obj.info.Size, opts)
	if err != nil {
		return sdk.ObjectInfo{}, &sdk.Error{Op: "get", Key: key, Err: err}
	}
	const chunk = 1 << 20
	for p := lo; p < hi; p += chunk {
		if err := ctx.Err(); err != nil {
			return sdk.ObjectInfo{}, &sdk.Error{Op: "get", Key: key, Err: err}
		}
		if _, err := w.Write(obj.data[p:min(p+chunk, hi)]); err != nil {
			return sdk.ObjectInfo{}, &sdk.Error{Op: "get", Key: key, Err: err}
		}
	}
	return cloneInfo(obj.info), nil
}

// resolveRange turns GetOptions into [lo, hi) within an object of size
// bytes: Length -1 (or 0 with Offset 0) reads to the end, a range running
// past the end is cut short, and an Offset past the end is an error.
func resolveRange(size int64, opts sdk.GetOptions) (lo, hi int64, err error) {
	if opts.Offset < 0 || opts.Offset > size {
		return 0, 0, fmt.Errorf("range offset %d outside object of %d bytes", opts.Offset, size)
	}
	lo, hi = opts.Offset, size
	if opts.Length > 0 || (opts.Length == 0 && opts.Offset != 0) {
		hi = lo + min(opts.Length, size-lo) // no overflow for huge lengths
	}
	return lo, hi, nil
}

func (m *memoryBackend) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	obj, err := m.lookup("stat", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	return cloneInfo(obj.info), nil
}

func (m *memoryBackend) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return err
	}
	m.mu.RLock()
	var infos []sdk.ObjectInfo
	for k, obj := range m.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, cloneInfo(obj.info))
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(infos, func(a, b sdk.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

func (m *memoryBackend) Delete(ctx context.Context, key string) error {
	if err := sdk.ValidateKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

func cloneInfo(info sdk.ObjectInfo) sdk.ObjectInfo {
	info.Metadata = maps.Clone(info.Metadata)
	return info
}

package synctest

import (
	"context"
	"io"
	"maps"
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
			NestedKeys:        true,
		},
	}, nil
}

func (m *memoryBackend) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return sdk.ObjectInfo{}, err
	}
	if err := m.checkPrecondition(key, opts); err != nil { // fail fast, checked again below
		return sdk.ObjectInfo{}, err
	}
	data, err := sdk.ReadAll(ctx, r, opts.Size)
	if err != nil {
		return sdk.ObjectInfo{}, &sdk.Error{Op: "put", Key: key, Err: err}
	}
	obj := &memObject{data: data, info: sdk.ObjectInfo{
		Key:      key,
		Size:     int64(len(data)),
		ETag:     sdk.ContentETag(data),
		Modified: time.Now(),
		Metadata: maps.Clone(opts.Metadata),
	}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkPreconditionLocked(key, opts); err != nil {
		return sdk.ObjectInfo{}, err
	}
	m.objects[key] = obj
	return obj.info.Clone(), nil
}

func (m *memoryBackend) checkPrecondition(key string, opts sdk.PutOptions) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.checkPreconditionLocked(key, opts)
}

func (m *memoryBackend) checkPreconditionLocked(key string, opts sdk.PutOptions) error {
	var etag string
	if cur, exists := m.objects[key]; exists {
		etag = cur.info.ETag
	}
	return sdk.CheckPrecondition(key, etag, opts)
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
	lo, hi, err := sdk.ResolveRange(key, obj.info.Size, opts)
	if err != nil {
		return sdk.ObjectInfo{}, err
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
	return obj.info.Clone(), nil
}

func (m *memoryBackend) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	obj, err := m.lookup("stat", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	return obj.info.Clone(), nil
}

func (m *memoryBackend) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return err
	}
	m.mu.RLock()
	var infos []sdk.ObjectInfo
	for k, obj := range m.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, obj.info)
		}
	}
	m.mu.RUnlock()
	// fn runs with no lock held: it may call back into the backend.
	return sdk.ListSorted(ctx, prefix, infos, fn)
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

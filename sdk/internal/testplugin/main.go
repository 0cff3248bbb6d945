// Command testplugin is the storage plugin sdk's process tests launch: an
// in-memory Backend served with sdk.Serve.
//
// Settings: "fail_configure" (any non-empty value makes New fail),
// "print_stdout" (non-empty: print to stdout from New and every Put, which
// Serve must keep away from the protocol), "drop_last_byte" (non-empty:
// Put stores and reports one byte less than it was sent, which the host
// must refuse). The environment variable
// SKYLOOP_TESTPLUGIN_STDOUT_BEFORE=1 makes main print to stdout before
// calling Serve, which the host must report clearly.
// SKYLOOP_TESTPLUGIN_BENCH=1 makes ETags generation numbers instead of
// content hashes and lets a Put reuse the buffer of the object it
// replaces, so that transport benchmarks measure the transport rather than
// SHA-256 and the allocator.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

func main() {
	if os.Getenv("SKYLOOP_TESTPLUGIN_STDOUT_BEFORE") != "" {
		fmt.Println("hello before Serve")
	}
	sdk.Serve(sdk.Plugin{
		Info: sdk.Info{
			Name:         "memory",
			Version:      "0.0.1",
			Capabilities: sdk.Capabilities{ConditionalWrites: true, AtomicReplace: true, RangedReads: true, NestedKeys: true},
		},
		Settings: []sdk.Setting{
			{Name: "fail_configure", Help: "non-empty: New fails"},
			{Name: "print_stdout", Help: "non-empty: print to stdout while serving"},
			{Name: "drop_last_byte", Help: "non-empty: Put keeps one byte less than it was sent"},
		},
		New: func(ctx context.Context, settings map[string]string) (sdk.Backend, error) {
			if v := settings["fail_configure"]; v != "" {
				return nil, fmt.Errorf("fail_configure=%s: %w", v, sdk.ErrInvalidSettings)
			}
			m := &memory{objects: map[string]object{}, print: settings["print_stdout"] != "", bench: os.Getenv("SKYLOOP_TESTPLUGIN_BENCH") != "",
				dropLast: settings["drop_last_byte"] != ""}
			if m.print {
				fmt.Println("hello from New")
			}
			return m, nil
		},
	})
}

type object struct {
	data []byte
	info sdk.ObjectInfo
}

type memory struct {
	mu       sync.Mutex
	objects  map[string]object
	print    bool
	bench    bool
	dropLast bool
	gen      atomic.Int64
}

func (m *memory) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "memory", Version: "0.0.1", Protocol: sdk.ProtocolVersion,
		Capabilities: sdk.Capabilities{ConditionalWrites: true, AtomicReplace: true, RangedReads: true, NestedKeys: true}}, nil
}

func (m *memory) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if m.print {
		fmt.Println("put", key)
	}
	if err := m.check(key, opts); err != nil {
		return sdk.ObjectInfo{}, err
	}
	// One copy of the payload, sized up front when the host knows it.
	var buf bytes.Buffer
	if m.bench {
		// Benchmarks measure the transport, not the allocator: reuse the
		// buffer of the object this one replaces (a concurrent Get of the
		// key may then see the new bytes early; only benchmarks set bench).
		m.mu.Lock()
		buf = *bytes.NewBuffer(m.objects[key].data[:0])
		m.mu.Unlock()
	}
	if opts.Size > 0 && opts.Size < 1<<30 {
		buf.Grow(int(opts.Size) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return sdk.ObjectInfo{}, sdk.PermanentError("put", key, err)
	}
	data := buf.Bytes()
	if m.dropLast && len(data) > 0 {
		data = data[:len(data)-1]
	}
	if err := ctx.Err(); err != nil {
		return sdk.ObjectInfo{}, err
	}
	var etag string
	if m.bench {
		etag = fmt.Sprintf("g%d", m.gen.Add(1))
	} else {
		sum := sha256.Sum256(data)
		etag = hex.EncodeToString(sum[:8])
	}
	info := sdk.ObjectInfo{Key: key, Size: int64(len(data)), ETag: etag, Modified: time.Now(), Metadata: opts.Metadata}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkLocked(key, opts); err != nil {
		return sdk.ObjectInfo{}, err
	}
	m.objects[key] = object{data: data, info: info}
	return info, nil
}

func (m *memory) check(key string, opts sdk.PutOptions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.checkLocked(key, opts)
}

func (m *memory) checkLocked(key string, opts sdk.PutOptions) error {
	o, ok := m.objects[key]
	switch {
	case opts.IfNoneMatch && ok:
		return sdk.PreconditionFailed("put", key, "object exists")
	case opts.IfMatch != "" && !ok:
		return sdk.PreconditionFailed("put", key, "object missing")
	case opts.IfMatch != "" && o.info.ETag != opts.IfMatch:
		return sdk.PreconditionFailed("put", key, "etag "+o.info.ETag+" != "+opts.IfMatch)
	}
	return nil
}

func (m *memory) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	m.mu.Lock()
	o, ok := m.objects[key]
	m.mu.Unlock()
	if !ok {
		return sdk.ObjectInfo{}, sdk.NotFound("get", key)
	}
	data := o.data
	if opts.Offset > int64(len(data)) {
		return sdk.ObjectInfo{}, sdk.PermanentError("get", key, errors.New("offset past the end"))
	}
	data = data[opts.Offset:]
	if opts.Length > 0 && opts.Length < int64(len(data)) {
		data = data[:opts.Length]
	}
	// Write in uneven pieces, as a real backend would.
	if _, err := io.CopyBuffer(w, bytes.NewReader(data), make([]byte, 300_001)); err != nil {
		return sdk.ObjectInfo{}, err
	}
	return o.info, nil
}

func (m *memory) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return sdk.ObjectInfo{}, sdk.NotFound("stat", key)
	}
	return o.info, nil
}

func (m *memory) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	m.mu.Lock()
	var infos []sdk.ObjectInfo
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, o.info)
		}
	}
	m.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, i := range infos {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

func (m *memory) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

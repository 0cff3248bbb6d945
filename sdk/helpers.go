package sdk

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
)

// This file holds what every backend would otherwise re-derive from the
// contract: the range rules, the precondition rules, listing in key order,
// a context-aware read of the upload, and the key checks Serve applies.

// ResolveRange returns the bytes [lo, hi) that a Get of key with opts reads
// from an object of size bytes, by the rules of GetOptions, or an error
// wrapping ErrInvalidRange when the Offset lies outside the object.
func ResolveRange(key string, size int64, opts GetOptions) (lo, hi int64, err error) {
	if opts.Offset < 0 || opts.Offset > size {
		return 0, 0, &Error{Op: "get", Key: key, Kind: ErrInvalidRange,
			Err: fmt.Errorf("offset %d outside an object of %d bytes", opts.Offset, size)}
	}
	lo, hi = opts.Offset, size
	if opts.Length > 0 || (opts.Length == 0 && opts.Offset != 0) {
		hi = lo + min(opts.Length, size-lo) // no overflow for huge lengths
	}
	return lo, hi, nil
}

// CheckPrecondition applies a Put's IfMatch and IfNoneMatch to the object
// now stored under key, whose ETag is currentETag ("" when there is none:
// a stored object always has an ETag), returning nil or an error wrapping
// ErrPreconditionFailed. Call it under the same lock (or inside the same
// atomic step) as the replacement it guards: checked before and written
// after, two writers can both pass.
func CheckPrecondition(key, currentETag string, opts PutOptions) error {
	switch {
	case opts.IfNoneMatch && currentETag != "":
		return PreconditionFailed("put", key, "object exists (If-None-Match)")
	case opts.IfMatch != "" && currentETag == "":
		return PreconditionFailed("put", key, "object does not exist (If-Match)")
	case opts.IfMatch != "" && currentETag != opts.IfMatch:
		return PreconditionFailed("put", key, fmt.Sprintf("ETag is %q, not %q (If-Match)", currentETag, opts.IfMatch))
	}
	return nil
}

// ListSorted calls fn, in byte-wise key order, for each of infos whose key
// starts with prefix, as Backend.List must; it validates prefix, gives fn
// copies (fn may keep or change them), stops at fn's first error and
// returns it, and stops when ctx ends. infos is sorted in place. Collect
// infos under the backend's lock and call ListSorted after releasing it:
// fn may call back into the backend.
func ListSorted(ctx context.Context, prefix string, infos []ObjectInfo, fn func(ObjectInfo) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return err
	}
	slices.SortFunc(infos, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	for _, info := range infos {
		if !strings.HasPrefix(info.Key, prefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return &Error{Op: "list", Key: prefix, Err: err}
		}
		if err := fn(info.Clone()); err != nil {
			return err
		}
	}
	return nil
}

// Clone returns a copy of o that shares no map with it.
func (o ObjectInfo) Clone() ObjectInfo {
	o.Metadata = maps.Clone(o.Metadata)
	return o
}

// ReadAll reads r to the end, like io.ReadAll, but fails as soon as ctx
// ends: the reader Serve hands to Put already fails then, a reader in an
// in-process test need not. size is PutOptions.Size, used as a hint.
func ReadAll(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if size > 0 && size < 1<<30 {
		buf.Grow(int(size) + 1) // +1: the read that sees EOF
	}
	if _, err := buf.ReadFrom(ctxReader{ctx, r}); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

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

// ContentETag is an ETag for data: the hex SHA-256 of the content, which
// changes whenever the content does.
func ContentETag(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ValidatingBackend returns b behind the checks Serve applies before a
// plugin's backend sees a call: every key passes ValidateKey and every List
// prefix ValidatePrefix, or the call fails with ErrInvalidKey; and a Put
// with IfMatch or IfNoneMatch fails with ErrUnsupported when b's Info lacks
// ConditionalWrites, so that a backend without them can never overwrite
// silently what the caller meant to protect. Use it to run such a backend
// in process (sdk/synctest calls it directly, with bad keys too).
func ValidatingBackend(b Backend) Backend {
	if v, ok := b.(validating); ok {
		return v
	}
	return validating{b}
}

type validating struct{ b Backend }

func (v validating) Info(ctx context.Context) (Info, error) { return v.b.Info(ctx) }

func (v validating) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if opts.IfMatch != "" || opts.IfNoneMatch {
		info, err := v.b.Info(ctx)
		if err != nil {
			return ObjectInfo{}, err
		}
		if !info.Capabilities.ConditionalWrites {
			return ObjectInfo{}, &Error{Op: "put", Key: key, Kind: ErrUnsupported,
				Err: fmt.Errorf("backend %s lacks ConditionalWrites: IfMatch and IfNoneMatch cannot be honoured", info.Name)}
		}
	}
	return v.b.Put(ctx, key, r, opts)
}

func (v validating) Get(ctx context.Context, key string, w io.Writer, opts GetOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	return v.b.Get(ctx, key, w, opts)
}

func (v validating) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	return v.b.Stat(ctx, key)
}

func (v validating) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return err
	}
	return v.b.List(ctx, prefix, fn)
}

func (v validating) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	return v.b.Delete(ctx, key)
}

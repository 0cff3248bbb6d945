// Package planted is the mutation test of the conformance kit: a correct
// in-memory backend, written from the contract as a plugin author would,
// into which each mutant plants one plausible bug. sdk/synctest's tests run
// the suite in process against every mutant (each must fail the check named
// for it, on every run); tools/skyloop's run some of them through a plugin
// process (plantedplugin) and `skyloop plugin check`.
//
// Where it sits in the flow: nowhere in production; it proves the suite
// that every plugin is checked with.
package planted

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// Bug names one planted bug; "" is none.
type Bug string

// Mutants are the planted bugs and the check that must catch each.
var Mutants = []struct {
	Bug   Bug
	Check string
	What  string
}{
	{"check-then-write", "IfNoneMatch/Lockstep", "checks the precondition before reading the body, writes after without checking again"},
	{"ignores-if-none-match", "IfNoneMatch/Existing", "drops IfNoneMatch"},
	{"if-match-creates", "IfMatch/Missing", "IfMatch on a missing key creates it"},
	{"if-match-any-etag", "Neighbours/Conditional", "IfMatch accepts the ETag of any stored object"},
	{"if-none-match-by-prefix", "Neighbours/Conditional", "IfNoneMatch fails when any key starts with the key"},
	{"shared-buffer", "Concurrent/LockstepKeys", "one upload buffer shared by concurrent Puts"},
	{"in-place-overwrite", "InFlight/Existing", "an overwrite replaces the object's bytes as they arrive"},
	{"publish-early", "InFlight/New", "a new key is visible, partly written, while its upload runs"},
	{"get-rereads-info", "InFlight/GetDuringOverwrite", "Get looks the object up again after copying its bytes"},
	{"size-cap-64mib", "RoundTrip/Large", "keeps at most 64 MiB of an upload"},
	{"empty-is-delete", "RoundTrip/Empty", "a Put of 0 bytes stores nothing"},
	{"range-at-end-error", "Range/AtEnd", "Offset equal to the size is an error"},
	{"length-zero-reads-all", "Range/Edges", "Length 0 reads to the end whatever the Offset"},
	{"negative-offset-as-zero", "Range/Edges", "a negative Offset reads from 0"},
	{"range-error-not-found", "Range/BeyondEnd", "an Offset past the end is ErrNotFound"},
	{"range-ignores-offset", "Range/Offset", "a ranged Get writes the whole object"},
	{"delete-by-prefix", "Neighbours/Delete", "Delete removes every key that starts with the key"},
	{"delete-missing-errors", "Delete/Missing", "Delete of a missing key is ErrNotFound"},
	{"etag-from-size", "ETag/SameSize", "the ETag is the size and the second of the write"},
	{"metadata-aliased", "Metadata/Isolation", "keeps the caller's metadata map"},
	{"metadata-merged", "Metadata/Isolation", "an overwrite merges the old metadata into the new"},
	{"stat-stale", "Overwrite", "Stat answers from a cache that overwrites do not update"},
	{"list-stale-after-delete", "Delete/ThenGet", "List answers from a cache that Delete does not update"},
	{"list-unsorted", "List/Prefixes", "List in map order"},
	{"list-dir-prefix", "List/Prefixes", "a prefix without '/' matches only whole path segments"},
	{"list-holds-lock", "List/Callback", "List calls fn with the backend's lock held"},
	{"list-paged-by-index", "List/DuringWrites", "List pages through the sorted keys by position"},
	{"list-ignores-stop", "List/StopOnError", "List goes on after fn fails"},
	{"case-folding", "List/Order", "keys are stored lower-cased"},
	{"ignores-cancel", "CancelledUpload/New", "reads the upload to the end whatever ctx says"},
	{"failed-upload-deletes-old", "FailedUpload/Existing", "a failed upload removes the object it was to replace"},
	{"not-found-generic", "NotFound/Stat", "a missing key is a plain error, not ErrNotFound"},
	{"errors-retryable", "Errors/Classes", "every error is marked retryable"},
	{"no-key-validation", "InvalidKey/Put", "accepts any key"},
}

type plantedObject struct {
	data []byte
	info sdk.ObjectInfo
}

// planted is a correct in-memory backend unless bug says otherwise.
type planted struct {
	bug     Bug
	mu      sync.Mutex
	objects map[string]plantedObject
	shared  bytes.Buffer              // shared-buffer
	cache   map[string]sdk.ObjectInfo // stat-stale, list-stale-after-delete
}

// New returns the planted backend with bug b ("" for none): empty, with
// every capability.
func New(b Bug) sdk.Backend { return newPlanted(b) }

func newPlanted(b Bug) *planted {
	return &planted{bug: b, objects: map[string]plantedObject{}, cache: map[string]sdk.ObjectInfo{}}
}

func (p *planted) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "planted", Version: "1", Capabilities: sdk.Capabilities{
		ConditionalWrites: true, AtomicReplace: true, RangedReads: true, NestedKeys: true}}, nil
}

func (p *planted) fail(err error) error {
	if p.bug == "errors-retryable" && err != nil {
		var e *sdk.Error
		if errors.As(err, &e) {
			e.Retryable = true
		}
	}
	return err
}

func (p *planted) validate(key string) error {
	if p.bug == "no-key-validation" {
		return nil
	}
	return sdk.ValidateKey(key)
}

func (p *planted) norm(key string) string {
	if p.bug == "case-folding" {
		return strings.ToLower(key)
	}
	return key
}

// preconditionLocked applies the precondition rules, with the planted
// precondition bugs.
func (p *planted) preconditionLocked(key string, o sdk.PutOptions) error {
	cur, exists := p.objects[key] // cur.info.ETag is "" when !exists
	switch {
	case p.bug == "ignores-if-none-match":
		o.IfNoneMatch = false
	case p.bug == "if-none-match-by-prefix" && o.IfNoneMatch:
		for k := range p.objects {
			if strings.HasPrefix(k, key) {
				return sdk.PreconditionFailed("put", key, "exists")
			}
		}
	case p.bug == "if-match-creates" && o.IfMatch != "" && !exists:
		return nil
	case p.bug == "if-match-any-etag" && o.IfMatch != "":
		for _, obj := range p.objects {
			if obj.info.ETag == o.IfMatch {
				return nil
			}
		}
	}
	return sdk.CheckPrecondition(key, cur.info.ETag, o)
}

func (p *planted) etag(data []byte, now time.Time) string {
	if p.bug == "etag-from-size" {
		return fmt.Sprintf("%d-%d", len(data), now.Unix())
	}
	return sdk.ContentETag(data)
}

func (p *planted) Put(ctx context.Context, key string, r io.Reader, o sdk.PutOptions) (sdk.ObjectInfo, error) {
	if err := p.validate(key); err != nil {
		return sdk.ObjectInfo{}, p.fail(err)
	}
	key = p.norm(key)
	if p.bug == "check-then-write" {
		p.mu.Lock()
		err := p.preconditionLocked(key, o)
		p.mu.Unlock()
		if err != nil {
			return sdk.ObjectInfo{}, err
		}
		o.IfMatch, o.IfNoneMatch = "", false // checked already
	}
	var data []byte
	var err error
	switch p.bug {
	case "ignores-cancel":
		data, err = io.ReadAll(r)
	case "size-cap-64mib":
		data, err = sdk.ReadAll(ctx, io.LimitReader(r, 64<<20), o.Size)
	case "shared-buffer":
		p.shared.Reset()
		_, err = p.shared.ReadFrom(&ctxR{ctx, r})
		data = slices.Clone(p.shared.Bytes())
	case "in-place-overwrite", "publish-early":
		data, err = p.readPublishing(ctx, key, r, o)
	default:
		data, err = sdk.ReadAll(ctx, r, o.Size)
	}
	if err != nil {
		if p.bug == "failed-upload-deletes-old" {
			p.mu.Lock()
			delete(p.objects, key)
			p.mu.Unlock()
		}
		return sdk.ObjectInfo{}, p.fail(&sdk.Error{Op: "put", Key: key, Err: err})
	}
	now := time.Now()
	meta := maps.Clone(o.Metadata)
	if p.bug == "metadata-aliased" {
		meta = o.Metadata
	}
	obj := plantedObject{data, sdk.ObjectInfo{Key: key, Size: int64(len(data)), ETag: p.etag(data, now), Modified: now, Metadata: meta}}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.preconditionLocked(key, o); err != nil {
		return sdk.ObjectInfo{}, p.fail(err)
	}
	if old, ok := p.objects[key]; ok && p.bug == "metadata-merged" && len(old.info.Metadata) > 0 {
		merged := maps.Clone(old.info.Metadata)
		maps.Copy(merged, obj.info.Metadata)
		obj.info.Metadata = merged
	}
	if p.bug == "empty-is-delete" && len(data) == 0 {
		delete(p.objects, key)
		return obj.info.Clone(), nil
	}
	p.objects[key] = obj
	if _, cached := p.cache[key]; !cached || p.bug != "stat-stale" {
		p.cache[key] = obj.info
	}
	return obj.info.Clone(), nil
}

// readPublishing reads the upload and publishes what has arrived after each
// read: in-place-overwrite over an existing object, publish-early also for
// a new one.
func (p *planted) readPublishing(ctx context.Context, key string, r io.Reader, o sdk.PutOptions) ([]byte, error) {
	var data []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := (&ctxR{ctx, r}).Read(buf)
		data = append(data, buf[:n]...)
		p.mu.Lock()
		if _, exists := p.objects[key]; exists || p.bug == "publish-early" {
			p.objects[key] = plantedObject{slices.Clone(data), sdk.ObjectInfo{Key: key, Size: int64(len(data)), ETag: sdk.ContentETag(data), Modified: time.Now()}}
		}
		p.mu.Unlock()
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

type ctxR struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxR) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

func (p *planted) lookup(op, key string) (plantedObject, error) {
	if err := p.validate(key); err != nil {
		return plantedObject{}, p.fail(err)
	}
	key = p.norm(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	obj, ok := p.objects[key]
	if !ok {
		if p.bug == "not-found-generic" {
			return obj, fmt.Errorf("%s %s: no such object", op, key)
		}
		return obj, p.fail(sdk.NotFound(op, key))
	}
	return obj, nil
}

func (p *planted) Get(ctx context.Context, key string, w io.Writer, o sdk.GetOptions) (sdk.ObjectInfo, error) {
	obj, err := p.lookup("get", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	switch p.bug {
	case "range-at-end-error":
		if o.Offset >= obj.info.Size && o.Offset > 0 {
			return sdk.ObjectInfo{}, &sdk.Error{Op: "get", Key: key, Kind: sdk.ErrInvalidRange}
		}
	case "length-zero-reads-all":
		if o.Length == 0 {
			o.Length = -1
		}
	case "negative-offset-as-zero":
		o.Offset = max(0, o.Offset)
	case "range-error-not-found":
		if o.Offset > obj.info.Size {
			return sdk.ObjectInfo{}, sdk.NotFound("get", key)
		}
	case "range-ignores-offset":
		o = sdk.GetOptions{}
	}
	lo, hi, err := sdk.ResolveRange(key, obj.info.Size, o)
	if err != nil {
		return sdk.ObjectInfo{}, p.fail(err)
	}
	for off := lo; off < hi; off += 1 << 20 {
		if _, err := w.Write(obj.data[off:min(hi, off+1<<20)]); err != nil {
			return sdk.ObjectInfo{}, &sdk.Error{Op: "get", Key: key, Err: err}
		}
	}
	if p.bug == "get-rereads-info" {
		return p.Stat(ctx, key)
	}
	return obj.info.Clone(), nil
}

func (p *planted) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	obj, err := p.lookup("stat", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	if p.bug == "stat-stale" {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.cache[p.norm(key)].Clone(), nil
	}
	if p.bug == "metadata-aliased" {
		return obj.info, nil
	}
	return obj.info.Clone(), nil
}

func (p *planted) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return p.fail(err)
	}
	p.mu.Lock()
	var infos []sdk.ObjectInfo
	if p.bug == "list-stale-after-delete" {
		for _, info := range p.cache {
			infos = append(infos, info)
		}
	} else {
		for _, obj := range p.objects {
			infos = append(infos, obj.info)
		}
	}
	switch p.bug {
	case "list-holds-lock":
		defer p.mu.Unlock()
		return sdk.ListSorted(ctx, prefix, infos, fn)
	case "list-paged-by-index":
		p.mu.Unlock()
		return p.listPaged(prefix, fn)
	}
	p.mu.Unlock()
	switch p.bug {
	case "list-unsorted":
		for _, info := range infos {
			if strings.HasPrefix(info.Key, prefix) {
				if err := fn(info); err != nil {
					return err
				}
			}
		}
		return nil
	case "list-dir-prefix":
		if !strings.HasSuffix(prefix, "/") && prefix != "" {
			infos = slices.DeleteFunc(infos, func(i sdk.ObjectInfo) bool {
				return i.Key != prefix && !strings.HasPrefix(i.Key, prefix+"/")
			})
		}
	case "list-ignores-stop":
		return sdk.ListSorted(ctx, prefix, infos, func(i sdk.ObjectInfo) error { _ = fn(i); return nil })
	}
	return sdk.ListSorted(ctx, prefix, infos, fn)
}

// listPaged lists 50 keys at a time, finding each page by its position in
// the sorted keys of the moment.
func (p *planted) listPaged(prefix string, fn func(sdk.ObjectInfo) error) error {
	for start := 0; ; start += 50 {
		p.mu.Lock()
		var infos []sdk.ObjectInfo
		for k, obj := range p.objects {
			if strings.HasPrefix(k, prefix) {
				infos = append(infos, obj.info)
			}
		}
		p.mu.Unlock()
		slices.SortFunc(infos, func(a, b sdk.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		if start >= len(infos) {
			return nil
		}
		for _, info := range infos[start:min(len(infos), start+50)] {
			if err := fn(info.Clone()); err != nil {
				return err
			}
		}
	}
}

func (p *planted) Delete(ctx context.Context, key string) error {
	if err := p.validate(key); err != nil {
		return p.fail(err)
	}
	key = p.norm(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.objects[key]; !ok && p.bug == "delete-missing-errors" {
		return sdk.NotFound("delete", key)
	}
	if p.bug == "delete-by-prefix" {
		for k := range p.objects {
			if strings.HasPrefix(k, key) {
				delete(p.objects, k)
			}
		}
	}
	delete(p.objects, key)
	if p.bug != "list-stale-after-delete" {
		delete(p.cache, key)
	}
	return nil
}

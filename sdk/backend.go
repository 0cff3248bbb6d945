package sdk

import (
	"context"
	"io"
	"time"
)

// ProtocolVersion is the plugin protocol major version this package speaks.
const ProtocolVersion = 1

// Capabilities are the optional behaviours a backend offers. A backend
// that lacks one says so; the engine adapts and sdk/synctest skips the
// checks that need it.
type Capabilities struct {
	// ConditionalWrites: Put honours IfMatch and IfNoneMatch atomically.
	// Without it, Serve refuses such a Put with ErrUnsupported before the
	// backend sees it. (The engine itself never needs them: saves are
	// immutable versions under new keys.)
	ConditionalWrites bool `json:"conditional_writes"`
	// AtomicReplace: readers never see a partly written object.
	AtomicReplace bool `json:"atomic_replace"`
	// RangedReads: Get honours Offset and Length without reading the rest.
	RangedReads bool `json:"ranged_reads"`
	// NestedKeys: a key may name an object and also be a prefix of other
	// keys at once ("a" and "a/b"), as on S3. Stores that map keys to file
	// names may lack it; a Put that would need it then fails with a
	// permanent error. Engine keys never need it.
	NestedKeys bool `json:"nested_keys"`
}

// Info describes a backend.
type Info struct {
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	Protocol     int          `json:"protocol"`
	Capabilities Capabilities `json:"capabilities"`
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	ETag     string // opaque; changes whenever the content changes
	Modified time.Time
	Metadata map[string]string
}

// PutOptions are the preconditions and metadata of a Put.
type PutOptions struct {
	// IfMatch, when set, makes the Put succeed only if the object exists
	// with this ETag; otherwise it fails with ErrPreconditionFailed.
	IfMatch string
	// IfNoneMatch makes the Put succeed only if no object has the key
	// (HTTP's If-None-Match: *); otherwise ErrPreconditionFailed.
	IfNoneMatch bool
	// Size is the payload length when known, -1 otherwise. Backends may use
	// it to choose single or multipart uploads.
	Size int64
	// Metadata is stored with the object and returned by Stat and Get.
	Metadata map[string]string
}

// GetOptions select a byte range of a Get; ResolveRange applies the rules.
type GetOptions struct {
	// Offset is the first byte: 0 to the object's size. An Offset equal to
	// the size reads nothing; one past it (or negative) is ErrInvalidRange.
	Offset int64
	// Length is the number of bytes to read, cut short at the end of the
	// object. A negative Length, or 0 with Offset 0 (the zero GetOptions),
	// reads to the end; 0 with a non-zero Offset reads nothing.
	Length int64
}

// Backend stores blobs under keys. Keys reaching a backend are already
// validated (ValidateKey). Implementations must be safe for concurrent use
// and honour ctx cancellation; a failed or cancelled Put must leave no
// object (or the previous one) behind.
type Backend interface {
	// Info names the backend and its capabilities.
	Info(ctx context.Context) (Info, error)
	// Put stores everything read from r under key, replacing any object
	// unless a precondition says otherwise.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error)
	// Get writes the object's bytes (or the range) to w.
	Get(ctx context.Context, key string, w io.Writer, opts GetOptions) (ObjectInfo, error)
	// Stat describes an object without reading it.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List calls fn for every object whose key starts with prefix, in key
	// order; an error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Delete removes the object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

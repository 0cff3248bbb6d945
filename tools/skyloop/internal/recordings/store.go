package recordings

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/skyloop-engine/skyloop/sdk"
)

// Store is what this package needs of a sink; *sync.Sink and every
// sdk.Backend (a plugin client included) have it.
type Store interface {
	List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error
	Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error)
}

// fetch reads a whole object; the size check catches an object replaced
// between List and Get.
func fetch(ctx context.Context, st Store, key string, size int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(size))
	if _, err := st.Get(ctx, key, &buf, sdk.GetOptions{}); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return buf.Bytes(), nil
}

// blockSize is the unit of ranged reads for summaries: a segment's header
// is in its first block and its index (16 bytes a frame) in its last one or
// two, so a summary costs two or three Gets.
const blockSize = 64 << 10

// rangedFile is an io.ReaderAt over ranged Gets of one object, caching
// whole blocks. Not safe for concurrent use (segment.Reader is not either).
type rangedFile struct {
	ctx    context.Context
	st     Store
	key    string
	size   int64
	blocks map[int64][]byte
	gets   int
}

func newRangedFile(ctx context.Context, st Store, key string, size int64) *rangedFile {
	return &rangedFile{ctx: ctx, st: st, key: key, size: size, blocks: map[int64][]byte{}}
}

func (f *rangedFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset", f.key)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= f.size {
			return n, io.EOF
		}
		bi := pos / blockSize
		b, err := f.block(bi)
		if err != nil {
			return n, err
		}
		in := pos - bi*blockSize
		if in >= int64(len(b)) {
			return n, io.EOF // the object is shorter than listed
		}
		n += copy(p[n:], b[in:])
	}
	return n, nil
}

func (f *rangedFile) block(bi int64) ([]byte, error) {
	if b, ok := f.blocks[bi]; ok {
		return b, nil
	}
	start := bi * blockSize
	length := min(blockSize, f.size-start)
	var buf bytes.Buffer
	buf.Grow(int(length))
	f.gets++
	if _, err := f.st.Get(f.ctx, f.key, &buf, sdk.GetOptions{Offset: start, Length: length}); err != nil {
		return nil, fmt.Errorf("get %s bytes %d-%d: %w", f.key, start, start+length-1, err)
	}
	f.blocks[bi] = buf.Bytes()
	return buf.Bytes(), nil
}

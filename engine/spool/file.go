package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// On-disk layout under the spool directory:
//
//	LOCK                      advisory lock: one Spool per directory
//	tmp/                      payloads being written; emptied by Open
//	data/ID.item              committed payloads (header, bytes, trailer)
//	sinks/NAME/ID.done        NAME has the item (or gave it up by Discard)
//	sinks/NAME/ID.parked      NAME failed permanently; JSON with the reason
//	corrupt/                  committed payloads that failed validation
//	open/TIME-N.part          journal of an item still being written (an open
//	                          segment): a JSON line (key, kind), then its bytes
//	                          so far; Open accepts what a killed process left
//	reserve                   zeros (Options.ReserveBytes), deleted to make
//	                          room for a save or record when the disk is full
//
// Anything else in the directory is not the spool's: it never reads or
// removes it (the engine keeps its session catalogs in catalog/).
//
// ID is a zero-padded decimal sequence number, so names sort in accept order.
const (
	dirTmp     = "tmp"
	dirData    = "data"
	dirSinks   = "sinks"
	dirCorrupt = "corrupt"
	extItem    = ".item"
	extDone    = ".done"
	extParked  = ".parked"
	extTmp     = ".tmp"
)

// A payload file is
//
//	"SKYSPL01" | u32 LE header length | header (JSON) | payload | trailer
//
// and the trailer is u64 LE payload length | u32 LE CRC-32C of everything
// from the header length to the end of the payload | "SKYEND01".
var (
	magicHead  = []byte("SKYSPL01")
	magicTail  = []byte("SKYEND01")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

const (
	headFixed    = 8 + 4
	trailerBytes = 8 + 4 + 8
)

// header is the JSON metadata at the start of a payload file.
type header struct {
	Key      string         `json:"key"`
	Kind     Kind           `json:"kind"`
	Opts     sdk.PutOptions `json:"opts"`
	Sinks    []string       `json:"sinks"`
	Accepted time.Time      `json:"accepted"`
	// Journal names the open/ journal this item completes: removed with
	// the payload, and never recovered while the item lives.
	Journal string `json:"journal,omitempty"`
}

// parkRecord is the content of an ID.parked marker.
type parkRecord struct {
	Err      string    `json:"err"`
	Conflict bool      `json:"conflict,omitempty"`
	Parked   time.Time `json:"parked"`
}

var errCorrupt = errors.New("spool: corrupt payload file")

func idName(id uint64, ext string) string {
	return fmt.Sprintf("%020d%s", id, ext)
}

// parseID returns the ID of a file named idName(id, ext).
func parseID(name, ext string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, ext)
	if !ok || len(base) != 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(base, 10, 64)
	return id, err == nil
}

// crcWriter passes bytes through to w and keeps their CRC-32C and count.
type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

// writePayload writes a complete payload file to f (positioned at 0) and
// returns the payload length and the offset of its first byte.
func writePayload(f *os.File, h header, data []byte, body io.Reader) (size, offset int64, err error) {
	hj, err := json.Marshal(h)
	if err != nil {
		return 0, 0, err
	}
	if _, err := f.Write(magicHead); err != nil {
		return 0, 0, err
	}
	cw := &crcWriter{w: f}
	var lenBuf [4]byte
	binary.LittleEndian.PutUint32(lenBuf[:], uint32(len(hj)))
	if _, err := cw.Write(lenBuf[:]); err != nil {
		return 0, 0, err
	}
	if _, err := cw.Write(hj); err != nil {
		return 0, 0, err
	}
	offset = int64(headFixed + len(hj))
	start := cw.n
	if body != nil {
		if _, err := io.Copy(cw, body); err != nil {
			return 0, 0, err
		}
	} else if _, err := cw.Write(data); err != nil {
		return 0, 0, err
	}
	size = cw.n - start
	var tr [trailerBytes]byte
	binary.LittleEndian.PutUint64(tr[0:8], uint64(size))
	binary.LittleEndian.PutUint32(tr[8:12], cw.crc)
	copy(tr[12:], magicTail)
	if _, err := f.Write(tr[:]); err != nil {
		return 0, 0, err
	}
	return size, offset, nil
}

// readPayloadFile validates a committed payload file completely (lengths,
// magics, CRC) and returns its header, payload length and payload offset.
func readPayloadFile(path string) (h header, size, offset int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return h, 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return h, 0, 0, err
	}
	total := st.Size()
	var head [headFixed]byte
	if total < headFixed+trailerBytes {
		return h, 0, 0, fmt.Errorf("%w: %s: %d bytes is too short", errCorrupt, path, total)
	}
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return h, 0, 0, err
	}
	if string(head[:8]) != string(magicHead) {
		return h, 0, 0, fmt.Errorf("%w: %s: bad magic", errCorrupt, path)
	}
	hlen := int64(binary.LittleEndian.Uint32(head[8:12]))
	size = total - headFixed - hlen - trailerBytes
	if hlen > 1<<20 || size < 0 {
		return h, 0, 0, fmt.Errorf("%w: %s: header length %d does not fit", errCorrupt, path, hlen)
	}
	var tr [trailerBytes]byte
	if _, err := f.ReadAt(tr[:], total-trailerBytes); err != nil {
		return h, 0, 0, err
	}
	if string(tr[12:]) != string(magicTail) || int64(binary.LittleEndian.Uint64(tr[0:8])) != size {
		return h, 0, 0, fmt.Errorf("%w: %s: bad trailer (file not completely written)", errCorrupt, path)
	}
	crc := crc32.Update(0, castagnoli, head[8:12])
	hj := make([]byte, hlen)
	if _, err := io.ReadFull(f, hj); err != nil {
		return h, 0, 0, err
	}
	crc = crc32.Update(crc, castagnoli, hj)
	rc := &crcWriter{w: io.Discard, crc: crc}
	if _, err := io.CopyN(rc, f, size); err != nil {
		return h, 0, 0, err
	}
	if rc.crc != binary.LittleEndian.Uint32(tr[8:12]) {
		return h, 0, 0, fmt.Errorf("%w: %s: CRC mismatch", errCorrupt, path)
	}
	if err := json.Unmarshal(hj, &h); err != nil {
		return h, 0, 0, fmt.Errorf("%w: %s: header: %v", errCorrupt, path, err)
	}
	return h, size, headFixed + hlen, nil
}

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeMarker creates (or replaces) a small marker file with content and
// makes its directory entry durable.
func writeMarker(dir, name string, content []byte) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if len(content) > 0 {
		if _, err := f.Write(content); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

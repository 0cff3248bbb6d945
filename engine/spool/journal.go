package spool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// dirOpen holds the journals of items still being written (open
// segments): KEY-ID.part, a JSON line naming the key and kind, then the
// item's bytes so far.
const (
	dirOpen = "open"
	extPart = ".part"
)

// Journal is an item still being written, typically the open segment of a
// recording: what has been appended and synced is on disk, so that a
// process killed before the item is complete leaves it behind, and the next
// Open accepts that prefix as an ordinary item (a segment's prefix decodes
// up to its last complete frame). Commit hands the finished item over;
// Abort drops it. A Journal is used by one goroutine at a time.
type Journal struct {
	s    *Spool
	key  string
	kind Kind
	path string
	f    *os.File
	n    int64
	done bool
}

type journalHeader struct {
	Key  string `json:"key"`
	Kind Kind   `json:"kind"`
}

var journalSeq atomic.Uint64

// Begin starts a journal for the item that will be accepted under key.
func (s *Spool) Begin(key string, kind Kind) (*Journal, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("spool: begin: %w", err)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	dir := filepath.Join(s.dir, dirOpen)
	path := filepath.Join(dir, fmt.Sprintf("%d-%d%s", time.Now().UnixNano(), journalSeq.Add(1), extPart))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("spool: begin %s: %w", key, err)
	}
	line, _ := json.Marshal(journalHeader{Key: key, Kind: kind})
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("spool: begin %s: %w", key, err)
	}
	return &Journal{s: s, key: key, kind: kind, path: path, f: f}, nil
}

// Append adds bytes to the journal (not yet durable: see Sync).
func (j *Journal) Append(p []byte) error {
	if j.done {
		return errors.New("spool: journal already committed or aborted")
	}
	n, err := j.f.Write(p)
	j.n += int64(n)
	if err != nil {
		return fmt.Errorf("spool: journal %s: %w", j.key, err)
	}
	return nil
}

// Sync makes what was appended durable.
func (j *Journal) Sync() error {
	if j.done {
		return nil
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("spool: journal %s: %w", j.key, err)
	}
	return nil
}

// Len is the number of bytes appended.
func (j *Journal) Len() int64 { return j.n }

// Commit accepts the complete item (data, which the journal's bytes are a
// prefix of) and removes the journal. On failure the journal is removed
// too: the caller reports the item lost.
func (j *Journal) Commit(ctx context.Context, data []byte) error {
	if j.done {
		return errors.New("spool: journal already committed or aborted")
	}
	// The item names its journal: if the process dies before the journal
	// is removed, the next Open sees that the item completes it.
	err := j.s.Accept(ctx, Item{Key: j.key, Kind: j.kind, Data: data, journal: filepath.Base(j.path)})
	j.Abort()
	return err
}

// Abort removes the journal.
func (j *Journal) Abort() {
	if j.done {
		return
	}
	j.done = true
	j.f.Close()
	os.Remove(j.path)
}

// recoverJournals accepts what killed processes left in dir/open: each
// journal's bytes become an ordinary item under its key (a segment cut
// short, whose readers decode it to its last complete frame). Journals
// with no bytes are removed. It runs at the end of Open.
func (s *Spool) recoverJournals() {
	dir := filepath.Join(s.dir, dirOpen)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	completed := map[string]bool{}
	s.mu.Lock()
	for _, it := range s.items {
		if it.journal != "" {
			completed[it.journal] = true
		}
	}
	s.mu.Unlock()
	var recovered []string
	var once sync.Once
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), extPart) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if completed[e.Name()] {
			os.Remove(path) // its complete item is in the spool
			continue
		}
		h, data, err := readJournal(path)
		switch {
		case err != nil:
			s.log.Warn("spool: unreadable journal of an open item left by a killed process; set aside", "file", path, "err", err)
			os.Rename(path, filepath.Join(s.dir, dirCorrupt, e.Name()))
			continue
		case len(data) == 0:
			os.Remove(path)
			continue
		}
		if err := s.Accept(context.Background(), Item{Key: h.Key, Kind: h.Kind, Data: data}); err != nil {
			once.Do(func() {
				s.log.Error("spool: could not keep the open item a killed process left; it stays for the next start", "key", h.Key, "err", err)
			})
			continue
		}
		os.Remove(path)
		recovered = append(recovered, h.Key)
	}
	if len(recovered) > 0 {
		s.log.Info("spool: recovered the open items of a process that was killed (a segment cut short decodes up to its last complete frame)",
			"items", len(recovered), "first", recovered[0])
	}
}

func readJournal(path string) (journalHeader, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return journalHeader{}, nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return journalHeader{}, nil, fmt.Errorf("no header line: %w", err)
	}
	var h journalHeader
	if err := json.Unmarshal(bytes.TrimSpace(line), &h); err != nil {
		return journalHeader{}, nil, err
	}
	if err := sdk.ValidateKey(h.Key); err != nil {
		return journalHeader{}, nil, err
	}
	data, err := io.ReadAll(br)
	return h, data, err
}

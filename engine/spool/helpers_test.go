package spool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// got is one successful Put seen by a fake sink.
type got struct {
	key  string
	data []byte
	opts sdk.PutOptions
}

// fakeSink records successful Puts. hook, when set, runs after the body has
// been read and may fail the Put (or block on ctx).
type fakeSink struct {
	name    string
	discard bool // count Puts but keep no bytes (benchmarks)
	hook    func(ctx context.Context, key string, data []byte) error

	mu     sync.Mutex
	puts   []got
	counts map[string]int
	calls  int
}

func newFake(name string) *fakeSink { return &fakeSink{name: name, counts: map[string]int{}} }

func (f *fakeSink) Name() string { return f.name }

func (f *fakeSink) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	if int64(len(data)) != opts.Size {
		return sdk.ObjectInfo{}, fmt.Errorf("size %d, opts.Size %d", len(data), opts.Size)
	}
	f.mu.Lock()
	f.calls++
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, key, data); err != nil {
			return sdk.ObjectInfo{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return sdk.ObjectInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.discard {
		data = nil
	}
	f.puts = append(f.puts, got{key: key, data: data, opts: opts})
	f.counts[key]++
	return sdk.ObjectInfo{Key: key, Size: int64(len(data))}, nil
}

func (f *fakeSink) setHook(h func(ctx context.Context, key string, data []byte) error) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *fakeSink) snapshot() []got {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]got(nil), f.puts...)
}

func (f *fakeSink) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.puts)
}

// blockUntilCancelled is a hook for a sink that never answers.
func blockUntilCancelled(ctx context.Context, _ string, _ []byte) error {
	<-ctx.Done()
	return ctx.Err()
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func quietLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

func testOpts(t testing.TB) Options {
	return Options{MinBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: quietLogger(t)}
}

func mustOpen(t testing.TB, dir string, sinks []Sink, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, sinks, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) }) // idempotent; covers t.Fatal paths
	return s
}

func mustClose(t testing.TB, s *Spool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// crash abandons the spool the way a dying process does: its goroutines
// stop mid-work, nothing is tidied, and the kernel drops the directory lock.
func (s *Spool) crash() {
	s.cancel()
	s.wg.Wait()
	s.unlockMu.Lock()
	defer s.unlockMu.Unlock()
	if !s.unlocked {
		s.unlocked = true
		unlockDir(s.lock)
	}
}

// payload returns deterministic test bytes for item i.
func payload(i, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(i*31 + j*7 + j>>8)
	}
	return b
}

// checkExactlyOnce asserts that sink received exactly want, in order, with
// the same bytes, each key once.
func checkExactlyOnce(t *testing.T, f *fakeSink, want []Item) {
	t.Helper()
	puts := f.snapshot()
	if len(puts) != len(want) {
		t.Fatalf("sink %s: %d puts, want %d", f.name, len(puts), len(want))
	}
	for i, p := range puts {
		if p.key != want[i].Key {
			t.Fatalf("sink %s: put %d is %s, want %s (order)", f.name, i, p.key, want[i].Key)
		}
		if !bytes.Equal(p.data, want[i].Data) {
			t.Fatalf("sink %s: %s: bytes differ (%d vs %d bytes)", f.name, p.key, len(p.data), len(want[i].Data))
		}
	}
	for k, c := range f.counts {
		if c != 1 {
			t.Fatalf("sink %s: %s put %d times", f.name, k, c)
		}
	}
}

func accept(t testing.TB, s *Spool, it Item) {
	t.Helper()
	if err := s.Accept(context.Background(), it); err != nil {
		t.Fatal(err)
	}
}

func sinkStats(t testing.TB, s *Spool, name string) SinkStats {
	t.Helper()
	for _, st := range s.Stats().Sinks {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no stats for sink %s", name)
	return SinkStats{}
}

func segKey(i int) string  { return fmt.Sprintf("g/p/sessions/s1/%08d.seg", i) }
func saveKey(i int) string { return fmt.Sprintf("g/p/saves/slot%d", i) }

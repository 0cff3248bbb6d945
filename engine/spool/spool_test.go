package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
	"go.uber.org/goleak"
)

func makeItems(n int) []Item {
	items := make([]Item, n)
	for i := range items {
		size := (i * 7919) % 70000
		if i%10 == 0 {
			size = 0
		}
		it := Item{Key: segKey(i), Kind: KindSegment, Data: payload(i, size)}
		if i%5 == 3 {
			it = Item{Key: saveKey(i), Kind: KindSave, Data: payload(i, size%4000),
				Opts: sdk.PutOptions{IfNoneMatch: true, Metadata: map[string]string{"v": "1"}}}
		}
		items[i] = it
	}
	return items
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() != "LOCK" && p != filepath.Join(dir, reserveName) {
			names = append(names, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestEveryItemReachesEverySinkOnceInOrder(t *testing.T) {
	dir := t.TempDir()
	a, b := newFake("local"), newFake("cloud")
	s := mustOpen(t, dir, []Sink{a, b}, testOpts(t))
	items := makeItems(150)
	// Some via Body, to cover the streaming path.
	for i, it := range items {
		if i%4 == 1 {
			it.Body = strings.NewReader(string(it.Data))
			it.Data = nil
		}
		accept(t, s, it)
	}
	waitFor(t, "delivery", 20*time.Second, func() bool { return a.n() == len(items) && b.n() == len(items) })
	checkExactlyOnce(t, a, items)
	checkExactlyOnce(t, b, items)
	for i, p := range a.snapshot() {
		if p.opts.IfNoneMatch != items[i].Opts.IfNoneMatch || p.opts.Metadata["v"] != items[i].Opts.Metadata["v"] {
			t.Fatalf("%s: PutOptions not carried: %+v", p.key, p.opts)
		}
	}
	waitFor(t, "payloads deleted", 5*time.Second, func() bool { return s.Stats().Items == 0 })
	st := s.Stats()
	for _, ss := range st.Sinks {
		if ss.Delivered != int64(len(items)) || ss.Pending != 0 || ss.PendingBytes != 0 || ss.Retries != 0 || ss.Failed != 0 {
			t.Fatalf("stats %+v", ss)
		}
	}
	if st.Bytes != 0 {
		t.Fatalf("bytes %d after full delivery", st.Bytes)
	}
	if left := dirEntries(t, dir); len(left) != 0 {
		t.Fatalf("files left after full delivery: %v", left)
	}
	mustClose(t, s)
	mustClose(t, s) // idempotent
	if err := s.Accept(context.Background(), items[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	goleak.VerifyNone(t)
}

func TestFailingSinkDoesNotHoldBackOthers(t *testing.T) {
	dir := t.TempDir()
	healthy, flaky := newFake("healthy"), newFake("flaky")
	var down atomic.Bool
	down.Store(true)
	var n atomic.Int64
	flaky.setHook(func(ctx context.Context, key string, _ []byte) error {
		if !down.Load() {
			return nil
		}
		if n.Add(1)%2 == 0 {
			return errors.New("connection reset by peer") // untyped: transport
		}
		return sdk.RetryableError("put", key, errors.New("503 slow down"))
	})
	s := mustOpen(t, dir, []Sink{healthy, flaky}, testOpts(t))
	defer mustClose(t, s)
	items := makeItems(60)
	var slowest time.Duration
	for _, it := range items {
		t0 := time.Now()
		accept(t, s, it)
		slowest = max(slowest, time.Since(t0))
	}
	waitFor(t, "healthy sink", 10*time.Second, func() bool { return healthy.n() == len(items) })
	checkExactlyOnce(t, healthy, items)
	if flaky.n() != 0 {
		t.Fatalf("flaky sink stored %d items while down", flaky.n())
	}
	waitFor(t, "retries", 5*time.Second, func() bool { return sinkStats(t, s, "flaky").Retries >= 3 })
	fs := sinkStats(t, s, "flaky")
	if fs.Pending != len(items) || fs.Failed != 0 || fs.LastError == "" {
		t.Fatalf("flaky stats while down: %+v", fs)
	}
	if st := s.Stats(); st.Items != len(items) {
		t.Fatalf("%d items on disk, want %d (kept for the flaky sink)", st.Items, len(items))
	}
	t.Logf("slowest Accept while a sink was failing: %v", slowest)
	if slowest > 2*time.Second {
		t.Fatalf("Accept took %v while a sink was failing", slowest)
	}
	down.Store(false)
	waitFor(t, "flaky sink after recovery", 10*time.Second, func() bool { return flaky.n() == len(items) })
	checkExactlyOnce(t, flaky, items)
	waitFor(t, "payloads deleted", 5*time.Second, func() bool { return s.Stats().Items == 0 })
}

func TestReplayAfterClose(t *testing.T) {
	dir := t.TempDir()
	a, b := newFake("a"), newFake("b")
	a.setHook(blockUntilCancelled)
	b.setHook(blockUntilCancelled)
	s := mustOpen(t, dir, []Sink{a, b}, testOpts(t))
	items := makeItems(40)
	for _, it := range items {
		accept(t, s, it)
	}
	mustClose(t, s)
	if a.n()+b.n() != 0 {
		t.Fatal("blocked sinks stored something")
	}
	a2, b2 := newFake("a"), newFake("b")
	s2 := mustOpen(t, dir, []Sink{a2, b2}, testOpts(t))
	if st := sinkStats(t, s2, "a"); st.Pending+int(st.Delivered) != len(items) {
		t.Fatalf("replayed stats %+v", st)
	}
	waitFor(t, "replayed delivery", 10*time.Second, func() bool { return a2.n() == len(items) && b2.n() == len(items) })
	checkExactlyOnce(t, a2, items)
	checkExactlyOnce(t, b2, items)
	mustClose(t, s2)
	// A third Open finds nothing to do.
	a3, b3 := newFake("a"), newFake("b")
	s3 := mustOpen(t, dir, []Sink{a3, b3}, testOpts(t))
	time.Sleep(50 * time.Millisecond)
	mustClose(t, s3)
	if a3.n()+b3.n() != 0 {
		t.Fatalf("delivered again after a clean run: %d, %d", a3.n(), b3.n())
	}
}

func TestReplayAfterCrash(t *testing.T) {
	dir := t.TempDir()
	a, b := newFake("a"), newFake("b")
	// a takes the first half and then hangs; b hangs at once.
	a.setHook(func(ctx context.Context, key string, _ []byte) error {
		if key >= segKey(20) {
			return blockUntilCancelled(ctx, key, nil)
		}
		return nil
	})
	b.setHook(blockUntilCancelled)
	s := mustOpen(t, dir, []Sink{a, b}, testOpts(t))
	var items []Item
	for i := range 40 {
		it := Item{Key: segKey(i), Kind: KindSegment, Data: payload(i, 1000+i)}
		items = append(items, it)
		accept(t, s, it)
	}
	waitFor(t, "first half at a", 10*time.Second, func() bool { return a.n() == 20 })
	s.crash() // no Close

	a2, b2 := newFake("a"), newFake("b")
	s2, err := Open(dir, []Sink{a2, b2}, testOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, s2)
	waitFor(t, "replay", 10*time.Second, func() bool { return a2.n() == 20 && b2.n() == 40 })
	checkExactlyOnce(t, a2, items[20:])
	checkExactlyOnce(t, b2, items)
	waitFor(t, "payloads deleted", 5*time.Second, func() bool { return s2.Stats().Items == 0 })
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, []Sink{newFake("a")}, testOpts(t))
	if _, err := Open(dir, []Sink{newFake("a")}, testOpts(t)); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	mustClose(t, s)
	s2 := mustOpen(t, dir, []Sink{newFake("a")}, testOpts(t))
	mustClose(t, s2)
	if _, err := Open(dir, []Sink{newFake("a"), newFake("a")}, testOpts(t)); err == nil {
		t.Fatal("duplicate sink names accepted")
	}
	if _, err := Open(dir, []Sink{newFake("../x")}, testOpts(t)); err == nil {
		t.Fatal("bad sink name accepted")
	}
}

func TestPermanentErrorParks(t *testing.T) {
	dir := t.TempDir()
	a, b := newFake("a"), newFake("b")
	bad := segKey(1)
	var refuse atomic.Bool
	refuse.Store(true)
	a.setHook(func(_ context.Context, key string, _ []byte) error {
		if key == bad && refuse.Load() {
			return sdk.PermanentError("put", key, errors.New("403 access denied"))
		}
		return nil
	})
	s := mustOpen(t, dir, []Sink{a, b}, testOpts(t))
	items := []Item{
		{Key: segKey(0), Data: payload(0, 100)},
		{Key: bad, Data: payload(1, 200)},
		{Key: segKey(2), Data: payload(2, 300)},
	}
	for _, it := range items {
		accept(t, s, it)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool {
		return sinkStats(t, s, "a").Delivered == 2 && sinkStats(t, s, "b").Delivered == 3 && len(s.Failed()) == 1
	})
	checkExactlyOnce(t, a, []Item{items[0], items[2]})
	checkExactlyOnce(t, b, items)
	failed := s.Failed()
	if len(failed) != 1 || failed[0].Sink != "a" || failed[0].Key != bad || failed[0].Conflict ||
		!strings.Contains(failed[0].Err, "access denied") || failed[0].Size != 200 {
		t.Fatalf("Failed() = %+v", failed)
	}
	st := sinkStats(t, s, "a")
	if st.Failed != 1 || st.Parked != 1 || st.Pending != 0 || st.Delivered != 2 {
		t.Fatalf("stats %+v", st)
	}
	if s.Stats().Items != 1 {
		t.Fatalf("parked payload not kept: %+v", s.Stats())
	}
	mustClose(t, s)

	// Still parked after a restart, not retried.
	a2 := newFake("a")
	s2 := mustOpen(t, dir, []Sink{a2, newFake("b")}, testOpts(t))
	time.Sleep(50 * time.Millisecond)
	if a2.n() != 0 {
		t.Fatal("parked item retried on Open")
	}
	failed = s2.Failed()
	if len(failed) != 1 || failed[0].Key != bad || !strings.Contains(failed[0].Err, "access denied") {
		t.Fatalf("Failed() after reopen = %+v", failed)
	}
	if err := s2.Requeue("a", 12345); !errors.Is(err, ErrNoItem) {
		t.Fatalf("Requeue of unknown item: %v", err)
	}
	if err := s2.Requeue("a", failed[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "requeued delivery", 10*time.Second, func() bool { return a2.n() == 1 })
	checkExactlyOnce(t, a2, items[1:2])
	waitFor(t, "payload deleted", 5*time.Second, func() bool { return s2.Stats().Items == 0 })
	if len(s2.Failed()) != 0 {
		t.Fatalf("Failed() after requeue = %+v", s2.Failed())
	}
	mustClose(t, s2)
	if left := dirEntries(t, dir); len(left) != 0 {
		t.Fatalf("files left: %v", left)
	}
}

func TestDiscardParked(t *testing.T) {
	dir := t.TempDir()
	a := newFake("a")
	a.setHook(func(_ context.Context, key string, _ []byte) error {
		return sdk.PermanentError("put", key, sdk.ErrInvalidKey)
	})
	s := mustOpen(t, dir, []Sink{a}, testOpts(t))
	defer mustClose(t, s)
	accept(t, s, Item{Key: segKey(0), Data: []byte("x")})
	waitFor(t, "parked", 5*time.Second, func() bool { return len(s.Failed()) == 1 })
	if err := s.Discard("a", s.Failed()[0].ID); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Items != 0 || len(s.Failed()) != 0 {
		t.Fatalf("after Discard: %+v", st)
	}
}

func TestConflictCallback(t *testing.T) {
	dir := t.TempDir()
	a := newFake("a")
	a.setHook(func(_ context.Context, key string, _ []byte) error {
		if strings.Contains(key, "saves/") || key == segKey(9) {
			return sdk.PreconditionFailed("put", key, "etag mismatch")
		}
		return nil
	})
	var mu sync.Mutex
	var seen []Conflict
	var s *Spool
	opts := testOpts(t)
	opts.OnConflict = func(c Conflict) Resolution {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		if c.Key == saveKey(2) {
			// Resolving may accept a merged version from inside the hook.
			if err := s.Accept(context.Background(), Item{Key: segKey(100), Data: []byte("merged")}); err != nil {
				t.Error(err)
			}
			return Resolved
		}
		return Park
	}
	s = mustOpen(t, dir, []Sink{a}, opts)
	defer mustClose(t, s)
	accept(t, s, Item{Key: saveKey(1), Kind: KindSave, Data: []byte("save one"), Opts: sdk.PutOptions{IfMatch: "e1"}})
	accept(t, s, Item{Key: saveKey(2), Kind: KindSave, Data: []byte("save two"), Opts: sdk.PutOptions{IfMatch: "e2"}})
	accept(t, s, Item{Key: segKey(9), Kind: KindSegment, Data: []byte("seg")})
	waitFor(t, "conflicts handled", 10*time.Second, func() bool { return len(s.Failed()) == 2 && sinkStats(t, s, "a").Delivered == 1 })
	mu.Lock()
	if len(seen) != 2 || seen[0].Key != saveKey(1) || string(seen[0].Data) != "save one" || seen[0].Opts.IfMatch != "e1" ||
		seen[0].Sink != "a" || !errors.Is(seen[0].Err, sdk.ErrPreconditionFailed) || seen[1].Key != saveKey(2) {
		t.Fatalf("conflicts seen: %+v", seen)
	}
	mu.Unlock()
	f := s.Failed()
	// save 1 parked as a conflict; the segment's failed precondition is a
	// plain permanent failure; save 2 resolved.
	if f[0].Key != saveKey(1) || !f[0].Conflict || f[1].Key != segKey(9) || f[1].Conflict {
		t.Fatalf("Failed() = %+v", f)
	}
	st := sinkStats(t, s, "a")
	if st.Conflicts != 2 || st.Failed != 1 || st.Parked != 2 || st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
	if a.snapshot()[0].key != segKey(100) {
		t.Fatalf("merged item not delivered: %+v", a.snapshot())
	}
}

func TestCapEvictsOldestSegmentsKeepsSaves(t *testing.T) {
	dir := t.TempDir()
	a := newFake("a")
	var open atomic.Bool
	a.setHook(func(ctx context.Context, key string, _ []byte) error {
		for !open.Load() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	})
	opts := testOpts(t)
	opts.MaxBytes = 10_000
	s := mustOpen(t, dir, []Sink{a}, opts)
	defer mustClose(t, s)
	var items []Item
	items = append(items, Item{Key: saveKey(0), Kind: KindSave, Data: payload(0, 1000)})
	for i := 1; i <= 12; i++ {
		items = append(items, Item{Key: segKey(i), Kind: KindSegment, Data: payload(i, 1000)})
	}
	items = append(items, Item{Key: saveKey(13), Kind: KindSave, Data: payload(13, 1000)})
	for _, it := range items {
		accept(t, s, it)
	}
	st := s.Stats()
	if st.Evicted != 4 || st.EvictedBytes != 4000 || st.Bytes != 10_000 || st.Items != 10 {
		t.Fatalf("after cap: %+v", st)
	}
	if ss := sinkStats(t, s, "a"); ss.Evicted != 4 || ss.Pending != 10 {
		t.Fatalf("sink stats %+v", ss)
	}
	// Saves alone may exceed the cap.
	for i := 20; i < 35; i++ {
		accept(t, s, Item{Key: saveKey(i), Kind: KindSave, Data: payload(i, 1000)})
	}
	st = s.Stats()
	if st.Evicted != 12 || st.Items != 17 || st.Bytes != 17_000 {
		t.Fatalf("after saves over the cap: %+v", st)
	}
	open.Store(true)
	want := []Item{items[0], items[13]}
	for i := 20; i < 35; i++ {
		want = append(want, Item{Key: saveKey(i), Data: payload(i, 1000)})
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return a.n() == len(want) })
	checkExactlyOnce(t, a, want)
}

func TestHalfWrittenPayloadIgnored(t *testing.T) {
	dir := t.TempDir()
	a := newFake("a")
	a.setHook(blockUntilCancelled)
	s := mustOpen(t, dir, []Sink{a}, testOpts(t))
	good := Item{Key: segKey(0), Data: payload(0, 5000)}
	half := Item{Key: segKey(1), Data: payload(1, 5000)}
	accept(t, s, good)
	accept(t, s, half)
	s.crash()

	// The second payload lost its tail (say, fsync never completed), and a
	// temporary file of a third Accept was left behind.
	halfPath := filepath.Join(dir, dirData, idName(2, extItem))
	fi, err := os.Stat(halfPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(halfPath, fi.Size()-100); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dirTmp, idName(3, extTmp)), []byte("SKYSPL01 partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A flipped byte in a complete file is caught by the CRC.
	accept2 := func() {
		a := newFake("a")
		a.setHook(blockUntilCancelled)
		s := mustOpen(t, dir, []Sink{a}, testOpts(t))
		accept(t, s, Item{Key: segKey(2), Data: payload(2, 100)})
		s.crash()
	}
	accept2()
	flip := filepath.Join(dir, dirData, idName(3, extItem)) // ID 3 again: tmp/3 was never committed
	b, err := os.ReadFile(flip)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(flip, b, 0o644); err != nil {
		t.Fatal(err)
	}

	a2 := newFake("a")
	s2 := mustOpen(t, dir, []Sink{a2}, testOpts(t))
	defer mustClose(t, s2)
	waitFor(t, "good item", 10*time.Second, func() bool { return a2.n() == 1 })
	time.Sleep(30 * time.Millisecond)
	checkExactlyOnce(t, a2, []Item{good})
	if st := s2.Stats(); st.Corrupt != 1 { // the truncated one went on the previous Open
		t.Fatalf("stats %+v, want 1 corrupt", st)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, dirTmp)); len(ents) != 0 {
		t.Fatalf("tmp not cleaned: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, dirCorrupt)); len(ents) != 2 {
		t.Fatalf("corrupt/ holds %d files, want 2", len(ents))
	}
	accept(t, s2, Item{Key: segKey(3), Data: []byte("new")})
	waitFor(t, "new item", 5*time.Second, func() bool { return a2.n() == 2 })
}

func TestUnknownSinkKeptOnDisk(t *testing.T) {
	dir := t.TempDir()
	a, b := newFake("a"), newFake("b")
	b.setHook(blockUntilCancelled)
	s := mustOpen(t, dir, []Sink{a, b}, testOpts(t))
	accept(t, s, Item{Key: segKey(0), Data: []byte("x")})
	waitFor(t, "a", 5*time.Second, func() bool { return a.n() == 1 })
	mustClose(t, s)
	// b is no longer configured: its item stays, reported as inactive.
	s2 := mustOpen(t, dir, []Sink{newFake("a")}, testOpts(t))
	st := sinkStats(t, s2, "b")
	if st.Active || st.Pending != 1 || s2.Stats().Items != 1 {
		t.Fatalf("stats %+v", s2.Stats())
	}
	mustClose(t, s2)
	b2 := newFake("b")
	s3 := mustOpen(t, dir, []Sink{b2}, testOpts(t))
	defer mustClose(t, s3)
	waitFor(t, "b", 5*time.Second, func() bool { return b2.n() == 1 })
}

func TestCloseCancelsPutsAndLeavesNoGoroutines(t *testing.T) {
	dir := t.TempDir()
	slow := newFake("slow")
	slow.setHook(blockUntilCancelled)
	flaky := newFake("flaky")
	flaky.setHook(func(_ context.Context, key string, _ []byte) error {
		return sdk.RetryableError("put", key, errors.New("busy"))
	})
	opts := testOpts(t)
	opts.MinBackoff, opts.MaxBackoff = time.Hour, time.Hour // Close must cut the backoff wait short
	s := mustOpen(t, dir, []Sink{slow, flaky}, opts)
	accept(t, s, Item{Key: segKey(0), Data: []byte("x")})
	waitFor(t, "attempts", 5*time.Second, func() bool { return sinkStats(t, s, "flaky").Retries == 1 })
	t0 := time.Now()
	mustClose(t, s)
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	goleak.VerifyNone(t)
}

func TestAcceptRejects(t *testing.T) {
	s := mustOpen(t, t.TempDir(), []Sink{newFake("a")}, testOpts(t))
	defer mustClose(t, s)
	if err := s.Accept(context.Background(), Item{Key: "/abs"}); !errors.Is(err, sdk.ErrInvalidKey) {
		t.Fatalf("bad key: %v", err)
	}
	if err := s.Accept(context.Background(), Item{Key: "k", Kind: 7}); err == nil {
		t.Fatal("bad kind accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Accept(ctx, Item{Key: "k"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

func TestDefaultRetryable(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{sdk.RetryableError("put", "k", errors.New("503")), true},
		{errors.New("connection refused"), true},
		{context.DeadlineExceeded, true},
		{&sdk.Error{Op: "put", Err: fmt.Errorf("%w (rpc)", context.DeadlineExceeded)}, true},
		{sdk.PermanentError("put", "k", errors.New("403")), false},
		{sdk.PreconditionFailed("put", "k", "etag"), false},
		{sdk.NotFound("put", "k"), false},
	}
	for _, c := range cases {
		if got := DefaultRetryable(c.err); got != c.want {
			t.Errorf("DefaultRetryable(%v) = %v", c.err, got)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	s := &Spool{opts: Options{MinBackoff: 200 * time.Millisecond, MaxBackoff: 30 * time.Second}}
	for attempt := range 40 {
		d := s.backoff(attempt)
		hi := min(200*time.Millisecond<<min(attempt, 20), 30*time.Second)
		if d < hi/2 || d > hi {
			t.Fatalf("attempt %d: %v not in [%v, %v]", attempt, d, hi/2, hi)
		}
	}
}

func TestAttemptTimeoutRetries(t *testing.T) {
	a := newFake("a")
	var calls atomic.Int64
	a.setHook(func(ctx context.Context, key string, _ []byte) error {
		if calls.Add(1) == 1 {
			<-ctx.Done() // hangs until the attempt times out
			return ctx.Err()
		}
		return nil
	})
	opts := testOpts(t)
	opts.AttemptTimeout = 50 * time.Millisecond
	s := mustOpen(t, t.TempDir(), []Sink{a}, opts)
	defer mustClose(t, s)
	accept(t, s, Item{Key: segKey(0), Data: []byte("x")})
	waitFor(t, "delivery after a timed-out attempt", 5*time.Second, func() bool { return sinkStats(t, s, "a").Delivered == 1 })
	if st := sinkStats(t, s, "a"); st.Retries != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

package synctest

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
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// The checks in this file force the overlaps that racy backends get wrong,
// rather than hoping for them: bodies that pause mid-upload while the check
// reads, bodies that advance in lockstep across concurrent Puts, a Get whose
// writer overwrites the object before it takes the bytes, and a List whose
// callback writes and deletes around the key it is handed. Each is built so
// that the plausible wrong implementation fails on every run in process;
// through a plugin process the host's buffering can hide a few of them
// (noted at each check).

// lockstepWait bounds how long a reader waits for the rest of its group.
// A backend that reads uploads one at a time (under a lock held for the
// whole Put) never lets the group meet; after this the group stops waiting
// for good, and the check goes on without the overlap (correct backends
// pass either way).
const lockstepWait = time.Second

// barrier lets n parties meet, again and again; once one wait times out it
// is broken and every wait returns at once.
type barrier struct {
	mu     sync.Mutex
	n      int
	count  int
	gen    chan struct{}
	broken bool
}

func newBarrier(n int) *barrier { return &barrier{n: n, gen: make(chan struct{})} }

func (b *barrier) wait() {
	b.mu.Lock()
	if b.broken {
		b.mu.Unlock()
		return
	}
	ch := b.gen
	b.count++
	if b.count == b.n {
		b.count = 0
		b.gen = make(chan struct{})
		close(ch)
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	timer := time.NewTimer(lockstepWait)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		b.mu.Lock()
		if !b.broken {
			b.broken = true
			if b.gen == ch {
				close(ch)
			}
		}
		b.mu.Unlock()
	}
}

// lockstepReader hands out data in pieces; before each piece it waits for
// every reader of its group to ask for the same piece, so concurrent Puts
// read their bodies interleaved, piece by piece.
type lockstepReader struct {
	data  []byte
	off   int
	piece int
	group *barrier
}

func (r *lockstepReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	if r.off%r.piece == 0 {
		r.group.wait()
	}
	end := min(len(r.data), (r.off/r.piece+1)*r.piece, r.off+len(p))
	n := copy(p, r.data[r.off:end])
	r.off += n
	return n, nil
}

// lockstepBodies returns one reader per body, in one group.
func lockstepBodies(bodies [][]byte, piece int) []io.Reader {
	g := newBarrier(len(bodies))
	rs := make([]io.Reader, len(bodies))
	for i, b := range bodies {
		rs[i] = &lockstepReader{data: b, piece: piece, group: g}
	}
	return rs
}

// pausingReader yields data up to pauseAt bytes, then closes paused and
// waits for resume (at most a minute) before it yields the rest: the check
// inspects the backend while the upload is in flight.
type pausingReader struct {
	data    []byte
	off     int
	pauseAt int
	paused  chan struct{}
	resume  chan struct{}
	once    sync.Once
}

func newPausingReader(data []byte, pauseAt int) *pausingReader {
	return &pausingReader{data: data, pauseAt: pauseAt, paused: make(chan struct{}), resume: make(chan struct{})}
}

func (r *pausingReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	if r.off == r.pauseAt {
		r.once.Do(func() { close(r.paused) })
		select {
		case <-r.resume:
		case <-time.After(time.Minute):
		}
	}
	end := len(r.data)
	if r.off < r.pauseAt {
		end = r.pauseAt
	}
	n := copy(p, r.data[r.off:end])
	r.off += n
	return n, nil
}

// inFlightSettle is how long a check waits, once the body has paused, for
// a plugin process to take in the bytes already sent (in process the
// backend has consumed them when it asks for more).
const inFlightSettle = 200 * time.Millisecond

// inFlightSize and inFlightPause: bodies above the sdk's 1 MiB transfer
// unit, paused past the first unit, so that a plugin has a part of the
// upload in hand while the check looks.
const (
	inFlightSize  = 5<<19 + 333 // 2.5 MiB and a bit
	inFlightPause = 3 << 19     // 1.5 MiB
)

// startPausedPut starts a Put of data under key whose body pauses at
// inFlightPause, waits for the pause and returns a function that resumes
// the body and waits for the Put's result.
func startPausedPut(t *testing.T, b sdk.Backend, key string, data []byte) func() (sdk.ObjectInfo, error) {
	t.Helper()
	body := newPausingReader(data, inFlightPause)
	type result struct {
		info sdk.ObjectInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := b.Put(testCtx(t), key, body, opts(len(data)))
		done <- result{info, err}
	}()
	select {
	case <-body.paused:
	case r := <-done:
		t.Fatalf("Put(%q) returned (%v) before reading %d of its %d bytes", key, r.err, inFlightPause, len(data))
	case <-time.After(time.Minute):
		t.Fatalf("Put(%q) did not read %d bytes of its body within a minute", key, inFlightPause)
	}
	time.Sleep(inFlightSettle)
	var once sync.Once
	finish := func() (sdk.ObjectInfo, error) {
		once.Do(func() { close(body.resume) })
		r := <-done
		return r.info, r.err
	}
	t.Cleanup(func() { once.Do(func() { close(body.resume) }) })
	return finish
}

// checkInFlightNew: an upload in flight is invisible: no Stat, Get or List
// shows the key (or a temporary name) before the Put returns. Through a
// plugin, the 1.5 MiB sent before the pause is with the plugin.
func checkInFlightNew(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "flight/new"
	data := genBytes(41, inFlightSize)
	mustPut(t, b, "flight/other", []byte("x"))
	finish := startPausedPut(t, b, key, data)
	if info, err := b.Stat(testCtx(t), key); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Stat(%q) during its first upload = %+v, %v; want sdk.ErrNotFound until the Put returns", key, info, err)
	}
	var buf bytes.Buffer
	if _, err := b.Get(testCtx(t), key, &buf, sdk.GetOptions{Length: -1}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Get(%q) during its first upload = %d bytes, %v; want sdk.ErrNotFound", key, buf.Len(), err)
	}
	expectKeysMsg(t, b, "", []string{"flight/other"}, "during an upload (no partial object, no temporary name)")
	if _, err := finish(); err != nil {
		t.Fatalf("Put: %v", err)
	}
	expectContent(t, b, key, data)
	expectKeys(t, b, "", []string{"flight/new", "flight/other"})
}

// checkInFlightExisting: while an overwrite is in flight, readers get the
// old object whole, with its own ETag and size (an overwrite done in place
// fails here).
func checkInFlightExisting(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "flight/existing"
	old := genBytes(42, 3<<20+77)
	oldInfo := mustPut(t, b, key, old)
	nw := genBytes(43, inFlightSize)
	finish := startPausedPut(t, b, key, nw)
	got, info := mustGet(t, b, key)
	if !bytes.Equal(got, old) {
		t.Errorf("Get during an overwrite: %d bytes (sha256 %v), want the old %d bytes (sha256 %v): the overwrite is visible before its Put returns",
			len(got), sum(got), len(old), sum(old))
	}
	if info.ETag != oldInfo.ETag || info.Size != int64(len(old)) {
		t.Errorf("Get during an overwrite: ETag %q Size %d, want the old object's %q %d", info.ETag, info.Size, oldInfo.ETag, len(old))
	}
	if st, err := b.Stat(testCtx(t), key); err != nil || st.ETag != oldInfo.ETag || st.Size != int64(len(old)) {
		t.Errorf("Stat during an overwrite = %+v, %v; want the old object's ETag %q Size %d", st, err, oldInfo.ETag, len(old))
	}
	expectKeysMsg(t, b, "", []string{key}, "during an overwrite")
	newInfo, err := finish()
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info := expectContent(t, b, key, nw); info.ETag != newInfo.ETag {
		t.Errorf("Get after the overwrite: ETag %q, Put returned %q", info.ETag, newInfo.ETag)
	}
}

// checkLockstepDifferentKeys: concurrent Puts of different keys whose
// bodies arrive interleaved, 64 KiB at a time; each key must hold exactly
// its own bytes (a buffer shared between uploads mixes them).
func checkLockstepDifferentKeys(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	const n = 6
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = genBytes(uint64(500+i), 5<<19+1000) // same piece count for all
	}
	readers := lockstepBodies(bodies, 64<<10)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = b.Put(testCtx(t), fmt.Sprintf("lock/%d", i), readers[i], sdk.PutOptions{Size: -1})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Put(lock/%d): %v", i, err)
		}
	}
	for i := range n {
		got, _ := mustGet(t, b, fmt.Sprintf("lock/%d", i))
		if !bytes.Equal(got, bodies[i]) {
			t.Fatalf("after %d Puts of different keys whose bodies arrived interleaved, lock/%d holds %d bytes (sha256 %v), want its own %d (sha256 %v): uploads share state",
				n, i, len(got), sum(got), len(bodies[i]), sum(bodies[i]))
		}
	}
}

// checkLockstepSameKey: concurrent Puts of one key, bodies interleaved:
// the object is exactly one of them afterwards, never a mix.
func checkLockstepSameKey(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	const n = 6
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = genBytes(uint64(600+i), 5<<19+2000)
	}
	sameKeyRace(t, b, "lock/same", bodies, lockstepBodies(bodies, 64<<10), func(int) int64 { return -1 })
}

// checkIfNoneMatchLockstep: 8 writers of one new key with IfNoneMatch,
// whose bodies advance together, so that every writer has started (and
// passed any check made before reading) before any finishes; exactly one
// may win, in each of two rounds. The bodies are larger than the sdk's
// 1 MiB transfer unit, so that through a plugin process too every Put has
// begun in the plugin before any body is complete.
func checkIfNoneMatchLockstep(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	const n = 8
	for round := range 2 {
		key := fmt.Sprintf("cond/lockstep-%d", round)
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = genBytes(uint64(700+10*round+i), 5<<19)
		}
		readers := lockstepBodies(bodies, 256<<10)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.Put(testCtx(t), key, readers[i], sdk.PutOptions{Size: -1, IfNoneMatch: true})
			})
		}
		wg.Wait()
		var winners []int
		for i, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, i)
			case !errors.Is(err, sdk.ErrPreconditionFailed):
				t.Errorf("round %d writer %d: %v, want success or sdk.ErrPreconditionFailed", round, i, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d of %d writers with IfNoneMatch on one new key succeeded (%v), want exactly 1: the precondition and the write are not one atomic step",
				round, len(winners), n, winners)
		}
		expectContent(t, b, key, bodies[winners[0]])
	}
}

// overwritingWriter, on its first Write, overwrites the object being read
// and waits (up to 2 s) for that Put to finish before taking the bytes.
type overwritingWriter struct {
	hw     *hashWriter
	first  bool
	before func()
}

func (w *overwritingWriter) Write(p []byte) (int, error) {
	if !w.first {
		w.first = true
		w.before()
	}
	return w.hw.Write(p)
}

// checkGetInfoMatchesBytes: the ObjectInfo a Get returns describes the
// bytes it wrote, even when the object is replaced while they are being
// written (a Get that looks the object up again after the copy returns
// the new ETag with the old bytes). In process every run; through a
// plugin only when the plugin is still sending when the host's writer runs.
func checkGetInfoMatchesBytes(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "get/consistent"
	v1, v2 := genBytes(801, 2<<20+5), genBytes(802, 1<<20+9)
	i1 := mustPut(t, b, key, v1)
	var i2 sdk.ObjectInfo
	var perr error
	putDone := make(chan struct{})
	w := &overwritingWriter{hw: newHashWriter(), before: func() {
		go func() {
			defer close(putDone)
			i2, perr = b.Put(testCtx(t), key, bytes.NewReader(v2), opts(len(v2)))
		}()
		select {
		case <-putDone:
		case <-time.After(2 * time.Second): // the backend makes the Put wait for the Get: fine
		}
	}}
	info, err := b.Get(testCtx(t), key, w, sdk.GetOptions{Length: -1})
	<-putDone
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if perr != nil {
		t.Fatalf("Put during Get: %v", perr)
	}
	got := w.hw.sum()
	switch got {
	case sum(v1):
		if info.ETag != i1.ETag || info.Size != int64(len(v1)) {
			t.Fatalf("Get wrote the first version's %d bytes but returned ETag %q Size %d; they are the first version's %q %d (the second's is %q %d): ObjectInfo read apart from the bytes",
				len(v1), info.ETag, info.Size, i1.ETag, len(v1), i2.ETag, len(v2))
		}
	case sum(v2):
		if info.ETag != i2.ETag || info.Size != int64(len(v2)) {
			t.Fatalf("Get wrote the second version's bytes but returned ETag %q Size %d, want %q %d", info.ETag, info.Size, i2.ETag, len(v2))
		}
	default:
		t.Fatalf("Get during an overwrite wrote %d bytes that are neither version (torn read)", w.hw.n)
	}
}

// neighbours are keys next to "nb/a" in byte order, or sharing its prefix.
var neighbours = []string{"nb/a-b", "nb/a.b", "nb/a0", "nb/ab", "nb/b", "nb/A", "nb/a b"}

func putNeighbours(t *testing.T, b sdk.Backend, caps sdk.Capabilities) (keys []string, infos map[string]sdk.ObjectInfo) {
	t.Helper()
	keys = slices.Clone(neighbours)
	if caps.NestedKeys {
		keys = append(keys, "nb/a/b", "nb/a/b/c")
	}
	infos = map[string]sdk.ObjectInfo{}
	for _, k := range keys {
		infos[k] = mustPut(t, b, k, keyContent(k))
	}
	return keys, infos
}

func expectNeighboursIntact(t *testing.T, b sdk.Backend, keys []string, infos map[string]sdk.ObjectInfo, after string) {
	t.Helper()
	for _, k := range keys {
		got, info := mustGet(t, b, k)
		if !bytes.Equal(got, keyContent(k)) || info.ETag != infos[k].ETag {
			t.Errorf("after %s, neighbour %q holds %q (ETag %q), want %q (ETag %q)", after, k, got, info.ETag, keyContent(k), infos[k].ETag)
		}
	}
}

// checkNeighboursDelete: deleting a key removes that key only, not the
// keys it is a prefix of or that sort next to it.
func checkNeighboursDelete(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	keys, infos := putNeighbours(t, b, caps)
	mustPut(t, b, "nb/a", []byte("target"))
	if err := b.Delete(testCtx(t), "nb/a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	expectNotFound(t, b, "nb/a")
	expectNeighboursIntact(t, b, keys, infos, `Delete("nb/a")`)
	want := slices.Clone(keys)
	slices.Sort(want)
	expectKeys(t, b, "", want)
	if err := b.Delete(testCtx(t), "nb/a"); err != nil {
		t.Errorf("Delete again: %v, want nil", err)
	}
	expectNeighboursIntact(t, b, keys, infos, `a second Delete("nb/a")`)
}

// checkNeighboursOverwrite: overwriting a key touches no other key.
func checkNeighboursOverwrite(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	keys, infos := putNeighbours(t, b, caps)
	mustPut(t, b, "nb/a", []byte("first"))
	mustPut(t, b, "nb/a", genBytes(5, 3000))
	expectContent(t, b, "nb/a", genBytes(5, 3000))
	expectNeighboursIntact(t, b, keys, infos, `overwriting "nb/a"`)
}

// checkNeighboursConditional: preconditions look at the one key: a key
// that merely shares a prefix, or an ETag of another key, does not count.
func checkNeighboursConditional(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	keys, infos := putNeighbours(t, b, caps)
	ctx := testCtx(t)
	data := []byte("new")
	if _, err := b.Put(ctx, "nb/a", bytes.NewReader(data), sdk.PutOptions{Size: 3, IfNoneMatch: true}); err != nil {
		t.Fatalf(`Put("nb/a", IfNoneMatch) with only neighbours (%q) present = %v, want success`, keys, err)
	}
	expectContent(t, b, "nb/a", data)
	// An ETag of another key with equal content must not match.
	twin := mustPut(t, b, "nb/twin", data)
	if _, err := b.Put(ctx, "nb/ab", strings.NewReader("x"), sdk.PutOptions{Size: 1, IfMatch: twin.ETag}); !errors.Is(err, sdk.ErrPreconditionFailed) && twin.ETag != infos["nb/ab"].ETag {
		t.Errorf(`Put("nb/ab", IfMatch: the ETag of "nb/twin") = %v, want sdk.ErrPreconditionFailed`, err)
	}
	// IfNoneMatch on a neighbour of an existing key.
	if _, err := b.Put(ctx, "nb/a1", strings.NewReader("y"), sdk.PutOptions{Size: 1, IfNoneMatch: true}); err != nil {
		t.Errorf(`Put("nb/a1", IfNoneMatch) next to "nb/a" = %v, want success`, err)
	}
	expectNeighboursIntact(t, b, keys, infos, "conditional Puts next to them")
}

// checkReuseAfterDelete: a deleted key is new again: IfNoneMatch succeeds,
// and an ETag from before the Delete no longer matches.
func checkReuseAfterDelete(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx := testCtx(t)
	key := "reuse/k"
	old := mustPut(t, b, key, []byte("before"))
	if err := b.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Put(ctx, key, strings.NewReader("before"), sdk.PutOptions{Size: 6, IfMatch: old.ETag}); !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Errorf("Put with IfMatch of the deleted object's ETag = %v, want sdk.ErrPreconditionFailed", err)
	}
	expectNotFound(t, b, key)
	if _, err := b.Put(ctx, key, strings.NewReader("after"), sdk.PutOptions{Size: 5, IfNoneMatch: true}); err != nil {
		t.Fatalf("Put with IfNoneMatch after Delete = %v, want success", err)
	}
	expectContent(t, b, key, []byte("after"))
}

// checkETagSameSize: an overwrite with different bytes of the same size
// changes the ETag, even within the same second.
func checkETagSameSize(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "etag/same-size"
	seen := map[string]int{}
	for i := range 4 {
		info := mustPut(t, b, key, genBytes(uint64(900+i), 4096))
		if j, dup := seen[info.ETag]; dup {
			t.Fatalf("writes %d and %d of different 4096-byte contents got the same ETag %q: an ETag must change whenever the content does", j, i, info.ETag)
		}
		seen[info.ETag] = i
		if st, err := b.Stat(testCtx(t), key); err != nil || st.ETag != info.ETag {
			t.Fatalf("Stat after write %d = %+v, %v; want ETag %q", i, st, err, info.ETag)
		}
	}
}

// checkMetadataIsolation: a backend keeps its own copy of metadata (the
// caller may reuse its map), hands out copies, and an overwrite replaces
// the metadata rather than merging it.
func checkMetadataIsolation(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx := testCtx(t)
	key := "meta/k"
	meta := map[string]string{"kind": "save", "v": "1"}
	want := maps.Clone(meta)
	pinfo, err := b.Put(ctx, key, strings.NewReader("x"), sdk.PutOptions{Size: 1, Metadata: meta})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	meta["v"] = "changed by the caller after Put"
	meta["extra"] = "y"
	if pinfo.Metadata != nil {
		pinfo.Metadata["v"] = "changed in Put's result"
	}
	st, err := b.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if !maps.Equal(st.Metadata, want) {
		t.Fatalf("Stat Metadata %v, want %v: the backend keeps the caller's map (or hands out its own), not a copy", st.Metadata, want)
	}
	st.Metadata["v"] = "changed in Stat's result"
	_ = b.List(ctx, "meta/", func(info sdk.ObjectInfo) error {
		if info.Metadata != nil {
			info.Metadata["v"] = "changed in List's result"
		}
		return nil
	})
	var buf bytes.Buffer
	if ginfo, err := b.Get(ctx, key, &buf, sdk.GetOptions{}); err == nil && ginfo.Metadata != nil {
		ginfo.Metadata["v"] = "changed in Get's result"
	}
	if st, _ := b.Stat(ctx, key); !maps.Equal(st.Metadata, want) {
		t.Fatalf("Stat Metadata %v after callers changed returned maps, want %v", st.Metadata, want)
	}
	mustPut(t, b, key, []byte("y")) // no metadata
	if st, _ := b.Stat(ctx, key); len(st.Metadata) != 0 {
		t.Fatalf("Stat Metadata %v after an overwrite without metadata, want none: an overwrite replaces the metadata", st.Metadata)
	}
}

// checkErrorClasses: the contract's errors say what happened and are not
// marked retryable: retrying them would fail again.
func checkErrorClasses(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx := testCtx(t)
	mustPut(t, b, "err/k", []byte("data"))
	type call struct {
		what string
		kind error
		err  error
	}
	_, getErr := b.Get(ctx, "err/missing", io.Discard, sdk.GetOptions{})
	_, statErr := b.Stat(ctx, "err/missing")
	_, keyErr := b.Put(ctx, "err/../x", strings.NewReader("x"), opts(1))
	calls := []call{
		{"Get of a missing key", sdk.ErrNotFound, getErr},
		{"Stat of a missing key", sdk.ErrNotFound, statErr},
		{"Put of an invalid key", sdk.ErrInvalidKey, keyErr},
	}
	if caps.ConditionalWrites {
		_, err := b.Put(ctx, "err/k", strings.NewReader("x"), sdk.PutOptions{Size: 1, IfNoneMatch: true})
		calls = append(calls, call{"Put with IfNoneMatch on an existing key", sdk.ErrPreconditionFailed, err})
	}
	if caps.RangedReads {
		_, err := b.Get(ctx, "err/k", io.Discard, sdk.GetOptions{Offset: 5, Length: -1})
		calls = append(calls, call{"Get with Offset past the end", sdk.ErrInvalidRange, err})
	}
	for _, c := range calls {
		switch {
		case !errors.Is(c.err, c.kind):
			t.Errorf("%s = %v, want an error wrapping sdk.%s", c.what, c.err, sentinelName(c.kind))
		case sdk.IsRetryable(c.err):
			t.Errorf("%s = %v: marked retryable, but a retry fails the same way", c.what, c.err)
		}
	}
}

func sentinelName(err error) string {
	switch err {
	case sdk.ErrNotFound:
		return "ErrNotFound"
	case sdk.ErrPreconditionFailed:
		return "ErrPreconditionFailed"
	case sdk.ErrInvalidKey:
		return "ErrInvalidKey"
	case sdk.ErrInvalidRange:
		return "ErrInvalidRange"
	}
	return err.Error()
}

// listDeadline bounds the List checks whose callback calls the backend: a
// List that holds a lock while it calls fn deadlocks there.
const listDeadline = 20 * time.Second

// listWithDeadline runs List in a goroutine and fails the check if it does
// not return in time (the goroutine is then left behind, blocked in the
// backend: the backend is deadlocked anyway).
func listWithDeadline(t *testing.T, b sdk.Backend, prefix string, fn func(sdk.ObjectInfo) error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.List(testCtx(t), prefix, fn) }()
	select {
	case err := <-done:
		return err
	case <-time.After(listDeadline):
		t.Fatalf("List(%q) did not return within %v while its callback called the backend: List must not hold a lock while it calls fn", prefix, listDeadline)
		return nil
	}
}

// checkListCallback: the callback may call the backend (Stat, Put,
// Delete) without deadlock, and the listing still holds every key that
// existed throughout, once, in order.
func checkListCallback(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	var stable []string
	for i := range 30 {
		stable = append(stable, fmt.Sprintf("cb/k%02d", i))
	}
	putAll(t, b, stable, keyContent)
	mustPut(t, b, "cb/k05-doomed", []byte("x"))
	var seen []string
	n := 0
	err := listWithDeadline(t, b, "cb/", func(info sdk.ObjectInfo) error {
		seen = append(seen, info.Key)
		ctx := testCtx(t)
		if _, err := b.Stat(ctx, info.Key); err != nil && info.Key != "cb/k05-doomed" {
			return fmt.Errorf("Stat(%q) from the List callback: %w", info.Key, err)
		}
		if !strings.HasPrefix(info.Key, "cb/k") {
			return nil // only the keys put before the listing write
		}
		n++
		if _, err := b.Put(ctx, fmt.Sprintf("cb/new-%02d", n), strings.NewReader("n"), opts(1)); err != nil {
			return fmt.Errorf("Put from the List callback: %w", err)
		}
		if n == 3 {
			if err := b.Delete(ctx, "cb/k05-doomed"); err != nil {
				return fmt.Errorf("Delete from the List callback: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	expectStableListing(t, "cb/", seen, stable)
}

// expectStableListing fails unless seen is sorted, has no key twice and
// holds every key of stable.
func expectStableListing(t *testing.T, prefix string, seen, stable []string) {
	t.Helper()
	if !slices.IsSorted(seen) {
		for i := 1; i < len(seen); i++ {
			if seen[i] < seen[i-1] {
				t.Fatalf("List(%q) while keys changed: %q came after %q (want byte-wise key order)", prefix, seen[i], seen[i-1])
			}
		}
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] == seen[i-1] {
			t.Fatalf("List(%q) while keys changed: %q listed twice", prefix, seen[i])
		}
	}
	var missing []string
	for _, k := range stable {
		if _, found := slices.BinarySearch(seen, k); !found {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("List(%q) while other keys were written and deleted missed %d keys that existed throughout (first: %q); it listed %d keys",
			prefix, len(missing), missing[:min(5, len(missing))], len(seen))
	}
}

// checkListDuringWrites: a listing while keys before the current one are
// deleted (by the callback, so the overlap is certain) and keys around it
// written and deleted (by a writer running beside it) still holds every key that existed
// throughout, once, in order. A listing that pages by position skips keys
// here.
func checkListDuringWrites(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	const n = 240
	var stable, churn []string
	for i := range n {
		stable = append(stable, fmt.Sprintf("lw/s%04d", i))
		if i%2 == 0 {
			churn = append(churn, fmt.Sprintf("lw/s%04d-c", i))
		}
	}
	putAll(t, b, append(slices.Clone(stable), churn...), func(string) []byte { return []byte("v") })
	ctx, cancel := context.WithCancel(testCtx(t))
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { // beside the listing: keys of the listed prefix come and go
		for i := 0; ctx.Err() == nil; i++ {
			k := fmt.Sprintf("lw/s%04d-w", i%n)
			if _, err := b.Put(ctx, k, strings.NewReader("w"), opts(1)); err != nil && ctx.Err() == nil {
				t.Errorf("Put beside List: %v", err)
				return
			}
			if err := b.Delete(ctx, k); err != nil && ctx.Err() == nil {
				t.Errorf("Delete beside List: %v", err)
				return
			}
		}
	})
	for round := range 2 {
		var seen []string
		deleted := 0
		err := listWithDeadline(t, b, "lw/s", func(info sdk.ObjectInfo) error {
			seen = append(seen, info.Key)
			// Delete a churn key listed already (before this one): a
			// listing that finds its place by position now skips keys.
			if deleted < len(churn) && churn[deleted] < info.Key {
				if err := b.Delete(ctx, churn[deleted]); err != nil {
					return err
				}
				deleted++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: List: %v", round, err)
		}
		expectStableListing(t, "lw/s", seen, stable)
		// Put the churn keys back for the next round.
		putAll(t, b, churn, func(string) []byte { return []byte("v") })
	}
}

// checkNestedKeys: with NestedKeys, "a" and "a/b" both hold objects and
// both list; without it, storing the second of the two either works or
// fails with a permanent error, and the first object survives either way.
func checkNestedKeys(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx := testCtx(t)
	if caps.NestedKeys {
		keys := []string{"n/a", "n/a/b", "n/a/b/c", "n/a-b", "n/b/c", "n/b"}
		for _, k := range keys {
			mustPut(t, b, k, keyContent(k))
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		expectKeys(t, b, "", want)
		expectKeys(t, b, "n/a", []string{"n/a", "n/a-b", "n/a/b", "n/a/b/c"})
		for _, k := range keys {
			expectContent(t, b, k, keyContent(k))
		}
		if err := b.Delete(ctx, "n/a"); err != nil {
			t.Fatalf("Delete(n/a): %v", err)
		}
		expectContent(t, b, "n/a/b", keyContent("n/a/b"))
		return
	}
	for _, pair := range [][2]string{{"n/x", "n/x/y"}, {"n/p/q", "n/p"}} {
		first, second := pair[0], pair[1]
		mustPut(t, b, first, keyContent(first))
		_, err := b.Put(ctx, second, strings.NewReader(second), opts(len(second)))
		switch {
		case err == nil:
			expectContent(t, b, second, keyContent(second))
		case sdk.IsRetryable(err):
			t.Errorf("Put(%q) with %q stored, on a backend without NestedKeys = %v: marked retryable, but it can never succeed", second, first, err)
		default:
			t.Logf("Put(%q) with %q stored: %v (backend lacks NestedKeys)", second, first, err)
			expectNotFound(t, b, second)
		}
		expectContent(t, b, first, keyContent(first))
	}
}

// checkRangeEdges reads every edge of GetOptions on a 1000-byte object and
// on an empty one.
func checkRangeEdges(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	data := genBytes(77, 1000)
	mustPut(t, b, "edge/obj", data)
	mustPut(t, b, "edge/empty", nil)
	cases := []struct {
		key            string
		offset, length int64
		lo, hi         int64 // expected bytes; lo < 0: ErrInvalidRange
	}{
		{"edge/obj", 0, 0, 0, 1000},
		{"edge/obj", 0, -1, 0, 1000},
		{"edge/obj", 0, -7, 0, 1000},
		{"edge/obj", 0, 1000, 0, 1000},
		{"edge/obj", 0, 1001, 0, 1000},
		{"edge/obj", 0, 1, 0, 1},
		{"edge/obj", 999, 1, 999, 1000},
		{"edge/obj", 999, -1, 999, 1000},
		{"edge/obj", 999, 5, 999, 1000},
		{"edge/obj", 5, 0, 5, 5},
		{"edge/obj", 1000, 0, 1000, 1000},
		{"edge/obj", 1000, -1, 1000, 1000},
		{"edge/obj", 1000, 10, 1000, 1000},
		{"edge/obj", 1001, -1, -1, 0},
		{"edge/obj", 1001, 0, -1, 0},
		{"edge/obj", -1, -1, -1, 0},
		{"edge/obj", -1000, 10, -1, 0},
		{"edge/empty", 0, -1, 0, 0},
		{"edge/empty", 0, 10, 0, 0},
		{"edge/empty", 0, 0, 0, 0},
		{"edge/empty", 1, -1, -1, 0},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		info, err := b.Get(testCtx(t), c.key, &buf, sdk.GetOptions{Offset: c.offset, Length: c.length})
		what := fmt.Sprintf("Get(%q, Offset %d, Length %d)", c.key, c.offset, c.length)
		if c.lo < 0 {
			if !errors.Is(err, sdk.ErrInvalidRange) {
				t.Errorf("%s = %d bytes, %v; want an error wrapping sdk.ErrInvalidRange (sdk.ResolveRange gives one)", what, buf.Len(), err)
			} else if buf.Len() != 0 {
				t.Errorf("%s failed but wrote %d bytes", what, buf.Len())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v; want bytes [%d, %d)", what, err, c.lo, c.hi)
			continue
		}
		src := data
		if c.key == "edge/empty" {
			src = nil
		}
		if !bytes.Equal(buf.Bytes(), src[c.lo:c.hi]) {
			t.Errorf("%s wrote %d bytes, want bytes [%d, %d) of the object (%d bytes)", what, buf.Len(), c.lo, c.hi, c.hi-c.lo)
		}
		if info.Size != int64(len(src)) {
			t.Errorf("%s returned Size %d, want the whole object's %d", what, info.Size, len(src))
		}
	}
}

// checkConditionalRefused: a conditional Put whose precondition is not met
// never overwrites, on every backend: one with ConditionalWrites fails it
// with ErrPreconditionFailed, one without refuses it (ErrUnsupported;
// sdk.ValidatingBackend and Serve do that for it) rather than ignoring the
// precondition.
func checkConditionalRefused(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "cond/unsupported"
	old := genBytes(1, 100)
	mustPut(t, b, key, old)
	for _, o := range []sdk.PutOptions{{Size: 3, IfNoneMatch: true}, {Size: 3, IfMatch: "not-the-etag"}} {
		_, err := b.Put(testCtx(t), key, strings.NewReader("new"), o)
		if !errors.Is(err, sdk.ErrUnsupported) && !errors.Is(err, sdk.ErrPreconditionFailed) {
			t.Errorf("conditional Put (%+v) that cannot be met = %v, want sdk.ErrPreconditionFailed (or sdk.ErrUnsupported without ConditionalWrites)", o, err)
		}
	}
	expectContent(t, b, key, old)
}

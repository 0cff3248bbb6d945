package synctest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// largeSize is the size of the blob RoundTrip/Large streams through the
// backend (generated and hashed on the fly, never held in memory here):
// larger than any segment the engine stores. A segment is closed once it
// reaches 64 MiB, so the largest holds 64 MiB plus one frame (at most an
// uncompressed 1920x1080 RGBA key frame) plus framing.
const largeSize = 64<<20 + 1920*1080*4 + 4097

// checkTimeout bounds every subtest, so a backend that hangs fails instead
// of stalling the whole test binary.
const checkTimeout = 5 * time.Minute

type check struct {
	name string
	fn   func(t *testing.T, b sdk.Backend, caps sdk.Capabilities)
}

// checks is the suite, in order. Names are part of the package's API: tools
// report results by them.
var checks = []check{
	{"Info", checkInfo},
	{"RoundTrip/Empty", checkRoundTrip(0, true)},
	{"RoundTrip/Small", checkRoundTrip(1000, true)},
	{"RoundTrip/MultiChunk", checkRoundTrip(3<<20+12345, false)},
	{"RoundTrip/Large", checkRoundTrip(largeSize, true)},
	{"RoundTrip/LongKey", checkLongKey},
	{"Stat", checkStat},
	{"Overwrite", checkOverwrite},
	{"ETag/SameSize", checkETagSameSize},
	{"Metadata/Isolation", checkMetadataIsolation},
	{"Errors/Classes", checkErrorClasses},
	{"IfNoneMatch/Existing", needs(conditional, checkIfNoneMatchExisting)},
	{"IfNoneMatch/New", needs(conditional, checkIfNoneMatchNew)},
	{"IfNoneMatch/Race", needs(conditional, checkIfNoneMatchRace)},
	{"IfNoneMatch/Lockstep", needs(conditional, checkIfNoneMatchLockstep)},
	{"IfMatch/Current", needs(conditional, checkIfMatchCurrent)},
	{"IfMatch/Stale", needs(conditional, checkIfMatchStale)},
	{"IfMatch/Missing", needs(conditional, checkIfMatchMissing)},
	{"Conditional/Refused", checkConditionalRefused},
	{"Range/Offset", needs(ranged, checkRange(1000, -1))},
	{"Range/OffsetLength", needs(ranged, checkRange(123457, 654321))},
	{"Range/Head", needs(ranged, checkRange(0, 10))},
	{"Range/LengthPastEnd", needs(ranged, checkRange(rangeSize-10, 100))},
	{"Range/HugeLength", needs(ranged, checkRange(5, 1<<62))},
	{"Range/AtEnd", needs(ranged, checkRange(rangeSize, -1))},
	{"Range/BeyondEnd", needs(ranged, checkRangeBeyondEnd)},
	{"Range/Edges", needs(ranged, checkRangeEdges)},
	{"NotFound/Get", checkNotFoundGet},
	{"NotFound/Stat", checkNotFoundStat},
	{"List/Prefixes", checkListPrefixes},
	{"List/Many", checkListMany},
	{"List/SpecialKeys", checkListSpecial},
	{"List/Order", checkListOrder},
	{"List/NoMatch", checkListNoMatch},
	{"List/StopOnError", checkListStop},
	{"List/Callback", checkListCallback},
	{"List/DuringWrites", checkListDuringWrites},
	{"NestedKeys", checkNestedKeys},
	{"Neighbours/Delete", checkNeighboursDelete},
	{"Neighbours/Overwrite", checkNeighboursOverwrite},
	{"Neighbours/Conditional", needs(conditional, checkNeighboursConditional)},
	{"Neighbours/ReuseAfterDelete", needs(conditional, checkReuseAfterDelete)},
	{"Delete/ThenGet", checkDeleteThenGet},
	{"Delete/Missing", checkDeleteMissing},
	{"InvalidKey/Put", checkInvalidPut},
	{"InvalidKey/Get", checkInvalidKeys("get")},
	{"InvalidKey/Stat", checkInvalidKeys("stat")},
	{"InvalidKey/Delete", checkInvalidKeys("delete")},
	{"InvalidKey/List", checkInvalidList},
	{"FailedUpload/New", checkFailedUpload(false)},
	{"FailedUpload/Existing", checkFailedUpload(true)},
	{"CancelledUpload/New", checkCancelledUpload(false)},
	{"CancelledUpload/Existing", checkCancelledUpload(true)},
	{"InFlight/New", needs(atomic, checkInFlightNew)},
	{"InFlight/Existing", needs(atomic, checkInFlightExisting)},
	{"InFlight/GetDuringOverwrite", needs(atomic, checkGetInfoMatchesBytes)},
	{"Concurrent/DifferentKeys", checkConcurrentKeys},
	{"Concurrent/LockstepKeys", checkLockstepDifferentKeys},
	{"Concurrent/SameKey", needs(atomic, checkConcurrentSameKey)},
	{"Concurrent/LockstepSameKey", needs(atomic, checkLockstepSameKey)},
	{"Concurrent/ReadDuringOverwrite", needs(atomic, checkReadDuringOverwrite)},
}

// Checks returns the names of Run's subtests, in order.
func Checks() []string {
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.name
	}
	return names
}

// Run runs the conformance suite against the backends newBackend makes.
// newBackend is called once per subtest, from inside it, and must return a
// fresh, empty backend (register cleanup with t.Cleanup); subtests list the
// whole backend. Subtests are named as Checks returns them; those that need
// a capability the backend's Info denies are skipped, naming it.
func Run(t *testing.T, newBackend func(t *testing.T) sdk.Backend) {
	t.Helper()
	groups := map[string][]check{}
	var order []string
	for _, c := range checks {
		group, sub, _ := strings.Cut(c.name, "/")
		if _, ok := groups[group]; !ok {
			order = append(order, group)
		}
		groups[group] = append(groups[group], check{sub, c.fn})
	}
	for _, group := range order {
		t.Run(group, func(t *testing.T) {
			for _, c := range groups[group] {
				run := func(t *testing.T) {
					b := newBackend(t)
					if b == nil {
						t.Fatal("newBackend returned nil")
					}
					info, err := b.Info(testCtx(t))
					if err != nil {
						t.Fatalf("Info: %v", err)
					}
					c.fn(t, b, info.Capabilities)
				}
				if c.name == "" {
					run(t)
				} else {
					t.Run(c.name, run)
				}
			}
		})
	}
}

// testCtx is a context that ends with the subtest or after checkTimeout.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), checkTimeout)
	t.Cleanup(cancel)
	return ctx
}

type capability int

const (
	conditional capability = iota
	ranged
	atomic
)

func needs(c capability, fn func(*testing.T, sdk.Backend, sdk.Capabilities)) func(*testing.T, sdk.Backend, sdk.Capabilities) {
	return func(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
		t.Helper()
		switch {
		case c == conditional && !caps.ConditionalWrites:
			t.Skip("backend lacks capability ConditionalWrites")
		case c == ranged && !caps.RangedReads:
			t.Skip("backend lacks capability RangedReads")
		case c == atomic && !caps.AtomicReplace:
			t.Skip("backend lacks capability AtomicReplace")
		}
		fn(t, b, caps)
	}
}

// ---- data helpers ----

// genReader yields n deterministic pseudo-random bytes for seed.
type genReader struct {
	rng  *rand.ChaCha8
	left int64
}

func newGen(seed uint64, n int64) *genReader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return &genReader{rng: rand.NewChaCha8(s), left: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.rng.Read(p)
	g.left -= int64(n)
	return n, nil
}

func genBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(newGen(seed, int64(n)), b)
	return b
}

type digest [sha256.Size]byte

func (d digest) String() string { return fmt.Sprintf("%x", d[:8]) }

func sum(b []byte) digest { return sha256.Sum256(b) }

// hashWriter hashes and counts what a Get writes.
type hashWriter struct {
	h hash.Hash
	n int64
}

func newHashWriter() *hashWriter { return &hashWriter{h: sha256.New()} }

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

func (w *hashWriter) sum() (d digest) {
	copy(d[:], w.h.Sum(nil))
	return d
}

func opts(size int) sdk.PutOptions { return sdk.PutOptions{Size: int64(size)} }

func mustPut(t *testing.T, b sdk.Backend, key string, data []byte) sdk.ObjectInfo {
	t.Helper()
	info, err := b.Put(testCtx(t), key, bytes.NewReader(data), opts(len(data)))
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
	return info
}

func mustGet(t *testing.T, b sdk.Backend, key string) ([]byte, sdk.ObjectInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := b.Get(testCtx(t), key, &buf, sdk.GetOptions{Length: -1})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return buf.Bytes(), info
}

// expectContent fails unless key holds exactly want.
func expectContent(t *testing.T, b sdk.Backend, key string, want []byte) sdk.ObjectInfo {
	t.Helper()
	got, info := mustGet(t, b, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q): %d bytes (sha256 %v), want %d bytes (sha256 %v)", key, len(got), sum(got), len(want), sum(want))
	}
	if info.Size != int64(len(want)) {
		t.Errorf("Get(%q): ObjectInfo.Size %d, want %d", key, info.Size, len(want))
	}
	return info
}

func expectNotFound(t *testing.T, b sdk.Backend, key string) {
	t.Helper()
	if _, err := b.Stat(testCtx(t), key); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Stat(%q) = %v, want an error wrapping sdk.ErrNotFound", key, err)
	}
}

func listKeys(t *testing.T, b sdk.Backend, prefix string) []string {
	t.Helper()
	keys := []string{}
	err := b.List(testCtx(t), prefix, func(info sdk.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func expectKeys(t *testing.T, b sdk.Backend, prefix string, want []string) {
	t.Helper()
	expectKeysMsg(t, b, prefix, want, "")
}

// expectKeysMsg fails unless List(prefix) returns exactly want, showing
// the first differences rather than both listings.
func expectKeysMsg(t *testing.T, b sdk.Backend, prefix string, want []string, when string) {
	t.Helper()
	got := listKeys(t, b, prefix)
	if want == nil {
		want = []string{}
	}
	if slices.Equal(got, want) {
		return
	}
	if when != "" {
		when = " " + when
	}
	t.Fatalf("List(%q)%s: %s", prefix, when, diffKeys(got, want))
}

// diffKeys describes how got differs from want in a few lines: counts, the
// first position where they differ, and up to 5 missing and 5 unexpected
// keys.
func diffKeys(got, want []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "got %d keys, want %d (byte-wise key order)", len(got), len(want))
	for i := range max(len(got), len(want)) {
		g, w := "(end)", "(end)"
		if i < len(got) {
			g = fmt.Sprintf("%q", got[i])
		}
		if i < len(want) {
			w = fmt.Sprintf("%q", want[i])
		}
		if g != w {
			fmt.Fprintf(&b, "\n  first difference at position %d: got %s, want %s", i, g, w)
			break
		}
	}
	gotSet, wantSet := map[string]bool{}, map[string]bool{}
	for _, k := range got {
		gotSet[k] = true
	}
	for _, k := range want {
		wantSet[k] = true
	}
	var missing, extra []string
	for _, k := range want {
		if !gotSet[k] {
			missing = append(missing, k)
		}
	}
	for _, k := range got {
		if !wantSet[k] {
			extra = append(extra, k)
		}
	}
	some := func(ks []string) string {
		if len(ks) > 5 {
			return fmt.Sprintf("%q and %d more", ks[:5], len(ks)-5)
		}
		return fmt.Sprintf("%q", ks)
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "\n  missing (%d): %s", len(missing), some(missing))
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, "\n  unexpected (%d): %s", len(extra), some(extra))
	}
	if len(missing) == 0 && len(extra) == 0 {
		b.WriteString("\n  same keys, wrong order or listed twice")
	}
	return b.String()
}

// ---- checks ----

func checkInfo(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	info, err := b.Info(testCtx(t))
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Name == "" {
		t.Error("Info.Name is empty")
	}
	if info.Protocol != 0 && info.Protocol != sdk.ProtocolVersion {
		t.Errorf("Info.Protocol = %d, want %d", info.Protocol, sdk.ProtocolVersion)
	}
	t.Logf("backend %s %s, capabilities %+v", info.Name, info.Version, info.Capabilities)
}

// checkRoundTrip streams size generated bytes in and out, comparing SHA-256
// digests; knownSize says whether PutOptions.Size carries the length.
func checkRoundTrip(size int64, knownSize bool) func(*testing.T, sdk.Backend, sdk.Capabilities) {
	return func(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
		ctx := testCtx(t)
		key := fmt.Sprintf("rt/blob-%d", size)
		src := sha256.New()
		o := sdk.PutOptions{Size: -1}
		if knownSize {
			o.Size = size
		}
		start := time.Now()
		pinfo, err := b.Put(ctx, key, io.TeeReader(newGen(uint64(size), size), src), o)
		if err != nil {
			t.Fatalf("Put(%q, %d bytes): %v", key, size, err)
		}
		putTime := time.Since(start)
		var want digest
		copy(want[:], src.Sum(nil))
		if pinfo.Size != size {
			t.Errorf("Put returned Size %d, want %d", pinfo.Size, size)
		}
		if pinfo.ETag == "" {
			t.Error("Put returned an empty ETag")
		}
		hw := newHashWriter()
		start = time.Now()
		ginfo, err := b.Get(ctx, key, hw, sdk.GetOptions{Length: -1})
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if hw.n != size || hw.sum() != want {
			t.Fatalf("Get(%q): %d bytes (sha256 %v), want %d bytes (sha256 %v)", key, hw.n, hw.sum(), size, want)
		}
		if ginfo.Size != size || ginfo.ETag != pinfo.ETag {
			t.Errorf("Get info: Size %d ETag %q, want Size %d ETag %q", ginfo.Size, ginfo.ETag, size, pinfo.ETag)
		}
		if size >= 1<<20 {
			t.Logf("%d MiB: put %v, get %v", size>>20, putTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		}
		// The zero GetOptions reads the whole object too.
		if size < 1<<20 {
			var buf bytes.Buffer
			if _, err := b.Get(ctx, key, &buf, sdk.GetOptions{}); err != nil || int64(buf.Len()) != size {
				t.Errorf("Get with zero GetOptions: %d bytes, %v; want %d bytes", buf.Len(), err, size)
			}
		}
	}
}

func checkLongKey(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	// sdk.MaxKeyLen bytes, in segments short enough for any file system.
	var sb strings.Builder
	for sb.Len() < sdk.MaxKeyLen-100 {
		sb.WriteString(strings.Repeat("k", 99) + "/")
	}
	sb.WriteString(strings.Repeat("z", sdk.MaxKeyLen-sb.Len()))
	key := sb.String()
	if len(key) != sdk.MaxKeyLen || sdk.ValidateKey(key) != nil {
		t.Fatalf("bad test key of %d bytes", len(key))
	}
	data := []byte("long key")
	mustPut(t, b, key, data)
	expectContent(t, b, key, data)
	expectKeys(t, b, "", []string{key})
}

func checkStat(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx := testCtx(t)
	key := "GAME/alice/saves/slot1"
	data := genBytes(1, 4321)
	meta := map[string]string{"kind": "save", "version": "7"}
	before := time.Now().Add(-time.Hour)
	pinfo, err := b.Put(ctx, key, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data)), Metadata: meta})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if pinfo.Key != key || pinfo.Size != int64(len(data)) || pinfo.ETag == "" {
		t.Errorf("Put returned %+v, want Key %q Size %d and an ETag", pinfo, key, len(data))
	}
	info, err := b.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != key {
		t.Errorf("Stat Key %q, want %q", info.Key, key)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Stat Size %d, want %d", info.Size, len(data))
	}
	if info.ETag != pinfo.ETag {
		t.Errorf("Stat ETag %q, Put returned %q", info.ETag, pinfo.ETag)
	}
	if !maps.Equal(info.Metadata, meta) {
		t.Errorf("Stat Metadata %v, want %v", info.Metadata, meta)
	}
	if info.Modified.Before(before) || info.Modified.After(time.Now().Add(time.Hour)) {
		t.Errorf("Stat Modified %v, want about now", info.Modified)
	}
	ginfo := expectContent(t, b, key, data)
	if ginfo.ETag != pinfo.ETag || !maps.Equal(ginfo.Metadata, meta) {
		t.Errorf("Get info ETag %q Metadata %v, want %q %v", ginfo.ETag, ginfo.Metadata, pinfo.ETag, meta)
	}
}

func checkOverwrite(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "ow/key"
	a, bb := genBytes(1, 3000), genBytes(2, 2000)
	i1 := mustPut(t, b, key, a)
	i2 := mustPut(t, b, key, bb)
	if i1.ETag == i2.ETag {
		t.Errorf("ETag %q unchanged after overwriting with different content", i1.ETag)
	}
	info := expectContent(t, b, key, bb)
	if info.ETag != i2.ETag {
		t.Errorf("Get ETag %q, second Put returned %q", info.ETag, i2.ETag)
	}
	st, err := b.Stat(testCtx(t), key)
	if err != nil || st.Size != int64(len(bb)) || st.ETag != i2.ETag {
		t.Errorf("Stat = %+v, %v; want Size %d ETag %q", st, err, len(bb), i2.ETag)
	}
	expectKeys(t, b, "", []string{key})
}

func checkIfNoneMatchExisting(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "cond/inm"
	old := genBytes(1, 1000)
	i1 := mustPut(t, b, key, old)
	nw := genBytes(2, 1000)
	_, err := b.Put(testCtx(t), key, bytes.NewReader(nw), sdk.PutOptions{Size: int64(len(nw)), IfNoneMatch: true})
	if !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Fatalf("Put with IfNoneMatch on an existing key = %v, want an error wrapping sdk.ErrPreconditionFailed", err)
	}
	if info := expectContent(t, b, key, old); info.ETag != i1.ETag {
		t.Errorf("ETag changed from %q to %q", i1.ETag, info.ETag)
	}
}

func checkIfNoneMatchNew(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "cond/inm-new"
	data := genBytes(3, 1000)
	if _, err := b.Put(testCtx(t), key, bytes.NewReader(data), sdk.PutOptions{Size: -1, IfNoneMatch: true}); err != nil {
		t.Fatalf("Put with IfNoneMatch on a new key: %v", err)
	}
	expectContent(t, b, key, data)
}

func checkIfNoneMatchRace(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx := testCtx(t)
	key := "cond/race"
	const n = 8
	datas := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		datas[i] = genBytes(uint64(100+i), 64<<10)
		wg.Go(func() {
			_, errs[i] = b.Put(ctx, key, bytes.NewReader(datas[i]), sdk.PutOptions{Size: int64(len(datas[i])), IfNoneMatch: true})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both succeeded with IfNoneMatch on the same new key", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, sdk.ErrPreconditionFailed):
			t.Errorf("writer %d: %v, want success or sdk.ErrPreconditionFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer succeeded with IfNoneMatch on a new key")
	}
	expectContent(t, b, key, datas[winner])
}

func checkIfMatchCurrent(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "cond/im"
	i1 := mustPut(t, b, key, genBytes(1, 1000))
	nw := genBytes(2, 1500)
	i2, err := b.Put(testCtx(t), key, bytes.NewReader(nw), sdk.PutOptions{Size: -1, IfMatch: i1.ETag})
	if err != nil {
		t.Fatalf("Put with IfMatch = current ETag: %v", err)
	}
	if i2.ETag == i1.ETag {
		t.Errorf("ETag unchanged after a conditional overwrite")
	}
	expectContent(t, b, key, nw)
}

func checkIfMatchStale(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "cond/im-stale"
	i1 := mustPut(t, b, key, genBytes(1, 1000))
	cur := genBytes(2, 1000)
	i2 := mustPut(t, b, key, cur)
	_, err := b.Put(testCtx(t), key, bytes.NewReader(genBytes(3, 10)), sdk.PutOptions{Size: 10, IfMatch: i1.ETag})
	if !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Fatalf("Put with a stale IfMatch ETag = %v, want an error wrapping sdk.ErrPreconditionFailed", err)
	}
	if info := expectContent(t, b, key, cur); info.ETag != i2.ETag {
		t.Errorf("ETag changed from %q to %q", i2.ETag, info.ETag)
	}
}

func checkIfMatchMissing(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "cond/im-missing"
	etag := mustPut(t, b, "cond/other", []byte("x")).ETag
	_, err := b.Put(testCtx(t), key, strings.NewReader("data"), sdk.PutOptions{Size: 4, IfMatch: etag})
	if !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Fatalf("Put with IfMatch on a missing key = %v, want an error wrapping sdk.ErrPreconditionFailed", err)
	}
	expectNotFound(t, b, key)
}

const rangeSize = 1<<20 + 4567

// checkRange reads [off, off+length) (length -1: to the end) of a
// rangeSize object and compares it with the expected slice.
func checkRange(off, length int64) func(*testing.T, sdk.Backend, sdk.Capabilities) {
	return func(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
		key := "range/obj"
		data := genBytes(9, rangeSize)
		pinfo := mustPut(t, b, key, data)
		end := int64(len(data))
		if length >= 0 {
			end = off + min(length, end-off)
		}
		var buf bytes.Buffer
		info, err := b.Get(testCtx(t), key, &buf, sdk.GetOptions{Offset: off, Length: length})
		if err != nil {
			t.Fatalf("Get(offset %d, length %d): %v", off, length, err)
		}
		if want := data[off:end]; !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("Get(offset %d, length %d): %d bytes (sha256 %v), want %d bytes (sha256 %v)",
				off, length, buf.Len(), sum(buf.Bytes()), len(want), sum(want))
		}
		if info.Size != rangeSize || info.ETag != pinfo.ETag {
			t.Errorf("ranged Get info: Size %d ETag %q; want the whole object's, %d %q", info.Size, info.ETag, rangeSize, pinfo.ETag)
		}
	}
}

func checkRangeBeyondEnd(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	key := "range/obj"
	mustPut(t, b, key, genBytes(9, 1000))
	var buf bytes.Buffer
	_, err := b.Get(testCtx(t), key, &buf, sdk.GetOptions{Offset: 1001, Length: -1})
	if err == nil {
		t.Fatalf("Get with Offset past the end of a 1000-byte object succeeded with %d bytes, want an error wrapping sdk.ErrInvalidRange", buf.Len())
	}
	if !errors.Is(err, sdk.ErrInvalidRange) {
		t.Errorf("Get with Offset past the end = %v; want an error wrapping sdk.ErrInvalidRange (sdk.ResolveRange gives one)", err)
	}
	if buf.Len() != 0 {
		t.Errorf("Get with Offset past the end wrote %d bytes", buf.Len())
	}
	t.Logf("error: %v", err)
}

func checkNotFoundGet(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	mustPut(t, b, "nf/present", []byte("x"))
	for _, key := range []string{"nf/missing", "nf/present/below", "nf", "other/x"} {
		var buf bytes.Buffer
		if _, err := b.Get(testCtx(t), key, &buf, sdk.GetOptions{Length: -1}); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want an error wrapping sdk.ErrNotFound", key, err)
		}
	}
}

func checkNotFoundStat(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	mustPut(t, b, "nf/present", []byte("x"))
	for _, key := range []string{"nf/missing", "nf/present/below", "nf", "other/x"} {
		if _, err := b.Stat(testCtx(t), key); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want an error wrapping sdk.ErrNotFound", key, err)
		}
	}
}

func putAll(t *testing.T, b sdk.Backend, keys []string, content func(string) []byte) {
	t.Helper()
	ctx := testCtx(t)
	work := make(chan string)
	errs := make(chan error, len(keys))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for k := range work {
				data := content(k)
				if _, err := b.Put(ctx, k, bytes.NewReader(data), opts(len(data))); err != nil {
					errs <- fmt.Errorf("Put(%q): %w", k, err)
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func keyContent(k string) []byte { return []byte(k) }

func checkListPrefixes(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	keys := []string{"p/a", "p/b/c", "p/b/d", "pq", "q/x", "p/b/cc/e"}
	putAll(t, b, keys, keyContent)
	expectKeys(t, b, "", []string{"p/a", "p/b/c", "p/b/cc/e", "p/b/d", "pq", "q/x"})
	expectKeys(t, b, "p/", []string{"p/a", "p/b/c", "p/b/cc/e", "p/b/d"})
	expectKeys(t, b, "p", []string{"p/a", "p/b/c", "p/b/cc/e", "p/b/d", "pq"})
	expectKeys(t, b, "p/b", []string{"p/b/c", "p/b/cc/e", "p/b/d"})
	expectKeys(t, b, "p/b/c", []string{"p/b/c", "p/b/cc/e"})
	expectKeys(t, b, "p/b/cc/", []string{"p/b/cc/e"})
	expectKeys(t, b, "q/x", []string{"q/x"})
	// Listed infos carry the size.
	err := b.List(testCtx(t), "", func(info sdk.ObjectInfo) error {
		if info.Size != int64(len(info.Key)) {
			return fmt.Errorf("List: %q has Size %d, want %d", info.Key, info.Size, len(info.Key))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func checkListMany(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	const n = 1200 // more than one page of S3's ListObjectsV2
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("many/%05d", i)
	}
	putAll(t, b, keys, func(string) []byte { return nil })
	expectKeys(t, b, "many/", keys)
	expectKeys(t, b, "many/0099", keys[990:1000])
}

// specialKeys exercise escaping in paths, URLs and listings.
var specialKeys = []string{
	"sp/with space", "sp/ trailing and leading ", "sp/ünïcödé", "sp/日本語/ファイル", "sp/emoji 😀",
	"sp/plus+sign", "sp/percent%20encoded", "sp/percent%", "sp/%o", "sp/x%t1", "sp/hash#", "sp/question?",
	"sp/amp&and", "sp/equals=", "sp/colon:", "sp/semicolon;", "sp/comma,", "sp/at@", "sp/dollar$",
	"sp/bang!", "sp/quote'", "sp/dquote\"", "sp/paren(x)", "sp/bracket[x]", "sp/brace{x}", "sp/star*",
	"sp/tilde~", "sp/caret^", "sp/pipe|", "sp/lt<gt>", "sp/.dotfile", "sp/trailingdot.", "sp/-dash",
	"sp/.meta", "sp/x.meta", "sp/x.tmp", "sp/...", "sp/a.b/c", "sp/backtick`",
}

func checkListSpecial(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	putAll(t, b, specialKeys, keyContent)
	for _, k := range specialKeys {
		expectContent(t, b, k, keyContent(k))
	}
	want := slices.Clone(specialKeys)
	slices.Sort(want)
	expectKeys(t, b, "", want)
	expectKeys(t, b, "sp/percent%", []string{"sp/percent%", "sp/percent%20encoded"})
}

func checkListOrder(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	// '-' and '.' sort before '/', which sorts before '0': a walk that
	// visits directory "a" before file "a-b" gets this wrong.
	// "o/a-b" and "o/a.b" sort between "o/a" and its directory's keys
	// "o/a/…" (here "o/ax/b", since "o/a" is an object: NestedKeys checks
	// the case of both).
	keys := []string{"o/a", "o/a-b", "o/a.b", "o/a/b", "o/a/b/c", "o/a0", "o/A", "o/é", "o/z", "o/~",
		"o/b/x", "o/b-", "o/b.", "o/ba", "o/a b", "o/a!", "o/a-/x", "o/a./y"}
	keys = slices.DeleteFunc(keys, func(k string) bool { return strings.HasPrefix(k, "o/a/") })
	keys = append(keys, "o/aa/b", "o/a0/b/c")
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "o/a0" }) // "o/a0/b/c" needs the name
	putAll(t, b, keys, keyContent)
	want := slices.Clone(keys)
	slices.Sort(want)
	expectKeys(t, b, "", want)
	expectKeys(t, b, "o/a", slices.DeleteFunc(slices.Clone(want), func(k string) bool { return !strings.HasPrefix(k, "o/a") }))
	for _, k := range keys {
		expectContent(t, b, k, keyContent(k))
	}
}

func checkListNoMatch(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	mustPut(t, b, "some/key", []byte("x"))
	for _, p := range []string{"nothing/", "nothing", "some/key/", "some/kez", "somf"} {
		expectKeys(t, b, p, nil)
	}
	expectKeys(t, b, "some/k", []string{"some/key"})
}

func checkListStop(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	putAll(t, b, []string{"s/1", "s/2", "s/3"}, keyContent)
	stop := errors.New("stop here")
	calls := 0
	err := b.List(testCtx(t), "s/", func(sdk.ObjectInfo) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("List returned %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("callback called %d times after returning an error, want 1", calls)
	}
}

func checkDeleteThenGet(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx := testCtx(t)
	mustPut(t, b, "del/a/b", []byte("x"))
	mustPut(t, b, "del/a/c", []byte("y"))
	if err := b.Delete(ctx, "del/a/b"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	var buf bytes.Buffer
	if _, err := b.Get(ctx, "del/a/b", &buf, sdk.GetOptions{Length: -1}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want sdk.ErrNotFound", err)
	}
	expectNotFound(t, b, "del/a/b")
	expectKeys(t, b, "", []string{"del/a/c"})
	if err := b.Delete(ctx, "del/a/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	expectKeys(t, b, "", nil)
	// The key can be written again.
	mustPut(t, b, "del/a/b", []byte("again"))
	expectContent(t, b, "del/a/b", []byte("again"))
}

func checkDeleteMissing(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx := testCtx(t)
	for _, key := range []string{"never/existed", "never"} {
		if err := b.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) of a missing key = %v, want nil", key, err)
		}
	}
	mustPut(t, b, "d/x", []byte("x"))
	if err := b.Delete(ctx, "d/x/below"); err != nil {
		t.Errorf("Delete of a key below an object = %v, want nil", err)
	}
	expectContent(t, b, "d/x", []byte("x"))
}

// invalidKeys are keys every backend must refuse with sdk.ErrInvalidKey,
// even when called directly rather than through the sdk's client.
var invalidKeys = []string{
	"", "/abs", "a/../b", "..", "../escape", "a/./b", ".", "a//b", "trailing/", "nul\x00byte", "back\\slash",
	"ctl\x01", "bad utf8 \xff", strings.Repeat("x", sdk.MaxKeyLen+1),
}

func checkInvalidPut(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	for _, key := range invalidKeys {
		_, err := b.Put(testCtx(t), key, strings.NewReader("x"), opts(1))
		if !errors.Is(err, sdk.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want an error wrapping sdk.ErrInvalidKey", key, err)
		}
	}
	expectKeys(t, b, "", nil)
}

func checkInvalidKeys(op string) func(*testing.T, sdk.Backend, sdk.Capabilities) {
	return func(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
		mustPut(t, b, "a/b", []byte("x"))
		for _, key := range invalidKeys {
			ctx := testCtx(t)
			var err error
			switch op {
			case "get":
				_, err = b.Get(ctx, key, io.Discard, sdk.GetOptions{Length: -1})
			case "stat":
				_, err = b.Stat(ctx, key)
			case "delete":
				err = b.Delete(ctx, key)
			}
			if !errors.Is(err, sdk.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want an error wrapping sdk.ErrInvalidKey", op, key, err)
			}
		}
		expectContent(t, b, "a/b", []byte("x"))
	}
}

func checkInvalidList(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	mustPut(t, b, "a/b", []byte("x"))
	for _, p := range []string{"/abs", "a/../", "a//", "..", "nul\x00"} {
		err := b.List(testCtx(t), p, func(sdk.ObjectInfo) error { return nil })
		if !errors.Is(err, sdk.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want an error wrapping sdk.ErrInvalidKey", p, err)
		}
	}
}

var errReader = errors.New("synctest: reader failed on purpose")

// failingReader yields n bytes, then fails.
type failingReader struct {
	r io.Reader
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errReader
	}
	return n, err
}

func checkFailedUpload(existing bool) func(*testing.T, sdk.Backend, sdk.Capabilities) {
	return func(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
		key := "fail/key"
		old := genBytes(1, 5000)
		if existing {
			mustPut(t, b, key, old)
		}
		for _, size := range []int64{-1, 3 << 20} {
			_, err := b.Put(testCtx(t), key, &failingReader{newGen(2, 3<<19)}, sdk.PutOptions{Size: size})
			if err == nil {
				t.Fatalf("Put with a reader failing after 1.5 MiB (Size %d) succeeded", size)
			}
			t.Logf("error: %v", err)
		}
		if existing {
			expectContent(t, b, key, old)
			expectKeys(t, b, "", []string{key})
		} else {
			expectNotFound(t, b, key)
			expectKeys(t, b, "", nil)
		}
	}
}

// cancellingReader cancels its context after n bytes and then keeps
// yielding data, slowly, for up to 20 s: a backend that ignores the
// cancellation neither returns promptly nor fails.
type cancellingReader struct {
	r        io.Reader
	n        int64
	cancel   func()
	cancelAt time.Time
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	p = p[:min(len(p), 32<<10)]
	if c.n <= 0 {
		if c.cancelAt.IsZero() {
			c.cancelAt = time.Now()
			c.cancel()
		}
		if time.Since(c.cancelAt) > 20*time.Second {
			return 0, io.EOF
		}
		time.Sleep(time.Millisecond)
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

func checkCancelledUpload(existing bool) func(*testing.T, sdk.Backend, sdk.Capabilities) {
	return func(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
		key := "cancel/key"
		old := genBytes(1, 5000)
		if existing {
			mustPut(t, b, key, old)
		}
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		cr := &cancellingReader{r: newGen(3, 1<<40), n: 1 << 20, cancel: cancel}
		_, err := b.Put(ctx, key, cr, sdk.PutOptions{Size: -1})
		if cr.cancelAt.IsZero() {
			t.Fatalf("Put returned (%v) before reading 1 MiB", err)
		}
		took := time.Since(cr.cancelAt)
		if err == nil {
			t.Fatalf("Put succeeded after its context was cancelled")
		}
		if !errors.Is(err, context.Canceled) {
			t.Logf("note: error does not wrap context.Canceled: %v", err)
		}
		if took > 5*time.Second {
			t.Errorf("Put returned %v after its context was cancelled, want promptly (< 5s)", took.Round(time.Millisecond))
		}
		if existing {
			expectContent(t, b, key, old)
			expectKeys(t, b, "", []string{key})
		} else {
			expectNotFound(t, b, key)
			expectKeys(t, b, "", nil)
		}
	}
}

func checkConcurrentKeys(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	const n = 16
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("conc/%02d/obj", i)
	}
	content := func(k string) []byte { return genBytes(uint64(len(k))*1000+uint64(k[5]), 64<<10+int(k[6])) }
	putAll(t, b, keys, content)
	for _, k := range keys {
		expectContent(t, b, k, content(k))
	}
	expectKeys(t, b, "conc/", keys)
}

func checkConcurrentSameKey(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	const n = 8
	datas := make([][]byte, n)
	readers := make([]io.Reader, n)
	for i := range n {
		datas[i] = genBytes(uint64(200+i), 512<<10+i)
		readers[i] = bytes.NewReader(datas[i])
	}
	sameKeyRace(t, b, "conc/same", datas, readers, func(i int) int64 { return int64(len(datas[i])) })
}

// sameKeyRace Puts every reader's body under key at once (sizes as size
// gives them) and checks that the object is exactly one of datas
// afterwards, with that writer's ETag, in Get and Stat alike.
func sameKeyRace(t *testing.T, b sdk.Backend, key string, datas [][]byte, readers []io.Reader, size func(i int) int64) {
	t.Helper()
	ctx := testCtx(t)
	n := len(datas)
	sums := map[digest]int{}
	for i, d := range datas {
		sums[sum(d)] = i
	}
	errs := make([]error, n)
	infos := make([]sdk.ObjectInfo, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			infos[i], errs[i] = b.Put(ctx, key, readers[i], sdk.PutOptions{Size: size(i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got, info := mustGet(t, b, key)
	w, ok := sums[sum(got)]
	if !ok {
		t.Fatalf("after %d concurrent Puts of one key the object (%d bytes) is none of the writes: torn or mixed", n, len(got))
	}
	if info.Size != int64(len(got)) {
		t.Errorf("Get info Size %d, read %d bytes", info.Size, len(got))
	}
	if info.ETag != infos[w].ETag {
		t.Errorf("the object holds writer %d's bytes with ETag %q, but writer %d's Put returned ETag %q", w, info.ETag, w, infos[w].ETag)
	}
	st, err := b.Stat(ctx, key)
	if err != nil || st.ETag != info.ETag {
		t.Errorf("Stat = %+v, %v; want the ETag Get returned (%q)", st, err, info.ETag)
	}
	t.Logf("writer %d won", w)
	expectKeys(t, b, "", []string{key})
}

func checkReadDuringOverwrite(t *testing.T, b sdk.Backend, caps sdk.Capabilities) {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	key := "conc/rw"
	versions := [][]byte{genBytes(301, 700<<10), genBytes(302, 300<<10)}
	valid := map[digest]bool{sum(versions[0]): true, sum(versions[1]): true}
	mustPut(t, b, key, versions[0])
	done := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() {
		defer close(done)
		for i := range 20 {
			v := versions[(i+1)%2]
			if _, err := b.Put(ctx, key, bytes.NewReader(v), opts(len(v))); err != nil {
				werr = err
				return
			}
		}
	})
	var mu sync.Mutex
	var reads int
	var bad []string
	etags := map[string]digest{} // an ETag names one content
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				hw := newHashWriter()
				info, err := b.Get(ctx, key, hw, sdk.GetOptions{Length: -1})
				mu.Lock()
				reads++
				switch {
				case err != nil:
					bad = append(bad, fmt.Sprintf("Get during overwrite: %v", err))
				case !valid[hw.sum()]:
					bad = append(bad, fmt.Sprintf("Get during overwrite read %d bytes that are neither version (torn read)", hw.n))
				case info.Size != hw.n:
					bad = append(bad, fmt.Sprintf("Get returned Size %d with %d bytes", info.Size, hw.n))
				default:
					if d, seen := etags[info.ETag]; seen && d != hw.sum() {
						bad = append(bad, fmt.Sprintf("Get returned ETag %q with two different contents", info.ETag))
					}
					etags[info.ETag] = hw.sum()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if werr != nil {
		t.Fatalf("Put: %v", werr)
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d reads went wrong; first: %s", len(bad), reads, bad[0])
	}
	t.Logf("%d reads during 20 overwrites", reads)
}

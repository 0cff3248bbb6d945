package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	storagev1 "github.com/skyloop-engine/skyloop/sdk/proto/v1"
)

func launchWith(t *testing.T, opts LaunchOptions) *Client {
	t.Helper()
	stderr := &safeBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts.Path, opts.Stderr = testPlugin, stderr
	c, err := Launch(ctx, opts)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		waitGone(t, c.Pid())
		if t.Failed() {
			t.Logf("plugin stderr:\n%s", stderr.String())
		}
	})
	return c
}

func needShm(t *testing.T, c *Client) {
	t.Helper()
	if c.shm == nil {
		if runtime.GOOS == "linux" {
			t.Fatal("Launch made no shared region on Linux")
		}
		t.Skip("no shared memory on " + runtime.GOOS)
	}
}

// checkIdle: every slot of the region is free again.
func checkIdle(t *testing.T, c *Client) {
	t.Helper()
	c.shm.mu.Lock()
	defer c.shm.mu.Unlock()
	if all := newShmRegion(c.shm.mem, nil).free; c.shm.inUse != 0 || c.shm.free != all {
		t.Fatalf("region not idle: %d slots in use, free mask %x", c.shm.inUse, c.shm.free)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// putGet puts data under key and checks that Get returns it byte for byte.
func putGet(t *testing.T, c *Client, key string, data []byte, size int64) {
	t.Helper()
	ctx := context.Background()
	oi, err := c.Put(ctx, key, bytes.NewReader(data), PutOptions{Size: size, Metadata: map[string]string{"k": key}})
	if err != nil {
		t.Fatalf("Put %s (%d bytes): %v", key, len(data), err)
	}
	if oi.Key != key || oi.Size != int64(len(data)) {
		t.Fatalf("Put %s: info %+v", key, oi)
	}
	var buf bytes.Buffer
	if _, err := c.Get(ctx, key, &buf, GetOptions{}); err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("Get %s: %d bytes differ from the %d put", key, buf.Len(), len(data))
	}
}

func TestSharedPutRoundTrip(t *testing.T) {
	c := launchWith(t, LaunchOptions{})
	needShm(t, c)
	sizes := []int{0, 1 << 10, shmThreshold - 1, shmThreshold, 1 << 20, 1<<20 + 1, 5<<20 + 12345, 20 << 20}
	for _, n := range sizes {
		data := randomBytes(n)
		for _, known := range []bool{true, false} {
			size := int64(-1)
			if known {
				size = int64(n)
			}
			before := c.sharedPuts.Load()
			putGet(t, c, fmt.Sprintf("shm/%d/%v", n, known), data, size)
			wantShared := !known || n >= shmThreshold
			if got := c.sharedPuts.Load() - before; got != map[bool]int64{true: 1}[wantShared] {
				t.Errorf("%d bytes (size known: %v): %d shared puts, want shared=%v", n, known, got, wantShared)
			}
		}
	}
	checkIdle(t, c)

	// A payload longer or shorter than announced still arrives whole.
	for _, delta := range []int64{-1, -1000, -(2 << 20), 1, 1000} {
		data := randomBytes(3 << 20)
		before := c.sharedPuts.Load()
		putGet(t, c, fmt.Sprintf("shm/delta%d", delta), data, int64(len(data))+delta)
		if c.sharedPuts.Load() != before+1 {
			t.Errorf("size off by %d: the Put did not use the region", delta)
		}
	}
	checkIdle(t, c)

	// Preconditions and metadata work through the region too.
	ctx := context.Background()
	big := randomBytes(2 << 20)
	first, err := c.Put(ctx, "shm/cond", bytes.NewReader(big), PutOptions{IfNoneMatch: true, Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "shm/cond", bytes.NewReader(big), PutOptions{IfNoneMatch: true, Size: -1}); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("IfNoneMatch on an existing key: %v", err)
	}
	if _, err := c.Put(ctx, "shm/cond", bytes.NewReader(big), PutOptions{IfMatch: first.ETag, Size: -1}); err != nil {
		t.Fatalf("IfMatch with the right etag: %v", err)
	}
	// A cancelled context fails the Put and leaves no object.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Put(cctx, "shm/cancelled", bytes.NewReader(big), PutOptions{Size: -1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put: %v", err)
	}
	if _, err := c.Stat(ctx, "shm/cancelled"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a cancelled Put left an object: %v", err)
	}
	checkIdle(t, c)
}

// TestSharedPutLargerThanRegion: a payload that does not fit in the
// region goes over the stream, the part already copied included.
func TestSharedPutLargerThanRegion(t *testing.T) {
	c := launchWith(t, LaunchOptions{shmSize: 4 << 20})
	needShm(t, c)
	for _, n := range []int{4 << 20, 4<<20 + 1, 20 << 20} {
		for _, size := range []int64{int64(n), -1} {
			before := c.sharedPuts.Load()
			putGet(t, c, fmt.Sprintf("big/%d/%d", n, size), randomBytes(n), size)
			shared := c.sharedPuts.Load() - before
			if want := map[bool]int64{true: 1}[n <= 4<<20]; shared != want {
				t.Errorf("%d bytes: %d shared puts, want %d", n, shared, want)
			}
		}
	}
	checkIdle(t, c)
}

// TestSharedPutRegionBusy: a Put that finds the region full, from the
// start or part way, uses the stream; one whose payload ends where the
// region fills still uses the region.
func TestSharedPutRegionBusy(t *testing.T) {
	c := launchWith(t, LaunchOptions{shmSize: 8 << 20})
	needShm(t, c)
	var held []int
	for len(held) < 6 {
		i, ok := c.shm.alloc()
		if !ok {
			t.Fatal("region full too early")
		}
		held = append(held, i)
	}
	cases := []struct {
		n      int
		shared bool
	}{{2 << 20, true}, {2<<20 + 1, false}, {5 << 20, false}, {1 << 20, true}}
	for _, tc := range cases {
		before := c.sharedPuts.Load()
		putGet(t, c, fmt.Sprintf("busy/%d", tc.n), randomBytes(tc.n), -1)
		if got := c.sharedPuts.Load() - before; (got == 1) != tc.shared {
			t.Errorf("%d bytes with 2 free slots: shared %v, want %v", tc.n, got == 1, tc.shared)
		}
	}
	// A payload of known size that does not fit takes the stream at once.
	before := c.sharedPuts.Load()
	putGet(t, c, "busy/known", randomBytes(3<<20), 3<<20)
	if c.sharedPuts.Load() != before {
		t.Error("a 3 MiB Put of known size used a region with 2 MiB free")
	}
	putGet(t, c, "busy/known2", randomBytes(2<<20), 2<<20)
	if c.sharedPuts.Load() != before+1 {
		t.Error("a 2 MiB Put of known size did not use a region with 2 MiB free")
	}
	for len(held) < 8 {
		i, _ := c.shm.alloc()
		held = append(held, i)
	}
	before = c.sharedPuts.Load()
	putGet(t, c, "busy/full", randomBytes(1<<20), -1)
	if c.sharedPuts.Load() != before {
		t.Error("a Put used a full region")
	}
	c.shm.release(held, false)
	checkIdle(t, c)
}

func TestSharedPutConcurrent(t *testing.T) {
	c := launchWith(t, LaunchOptions{})
	needShm(t, c)
	const workers, rounds = 12, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range rounds {
				// 12 workers × up to 9 MiB exceed the 64 MiB region: some
				// Puts find it busy and use the stream.
				data := randomBytes(1<<20 + (w*rounds+i)*197_000)
				key := fmt.Sprintf("conc/%d/%d", w, i)
				if _, err := c.Put(ctx, key, bytes.NewReader(data), PutOptions{Size: -1}); err != nil {
					errs <- err
					return
				}
				var buf bytes.Buffer
				if _, err := c.Get(ctx, key, &buf, GetOptions{}); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf.Bytes(), data) {
					errs <- fmt.Errorf("%s: %d bytes differ from the %d put", key, buf.Len(), len(data))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c.sharedPuts.Load() == 0 {
		t.Error("no Put used the shared region")
	}
	t.Logf("%d of %d puts through the region", c.sharedPuts.Load(), workers*rounds)
	checkIdle(t, c)
}

// TestStreamOnly: without the region every Put uses the stream.
func TestStreamOnly(t *testing.T) {
	c := launchWith(t, LaunchOptions{StreamOnly: true})
	if c.shm != nil {
		t.Fatal("StreamOnly: Launch made a region")
	}
	putGet(t, c, "s/8m", randomBytes(8<<20), -1)
	// Payloads longer or shorter than announced arrive whole.
	putGet(t, c, "s/longer", randomBytes(3<<20), 10)
	putGet(t, c, "s/shorter", randomBytes(1000), 5000)
	putGet(t, c, "s/exact", randomBytes(1000), 1000)
	if n := c.sharedPuts.Load(); n != 0 {
		t.Fatalf("%d shared puts without a region", n)
	}
}

// TestSharedFallbackUnimplemented: a plugin process without the region
// (as an older sdk's would be) answers PutShared with Unimplemented; the
// host sends the payload over the stream and stops trying the region.
func TestSharedFallbackUnimplemented(t *testing.T) {
	f, region, err := createShm(4 << 20)
	if err != nil {
		t.Skip(err)
	}
	f.Close()
	c := dispenseUnconfigured(t)
	c.shm = region
	defer c.Close()
	ctx := context.Background()
	if _, err := c.rpc.Configure(ctx, &storagev1.ConfigureRequest{Settings: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{3 << 20, 1 << 20} {
		putGet(t, c, fmt.Sprintf("old/%d", i), randomBytes(n), -1)
		if !c.shmOff.Load() || c.sharedPuts.Load() != 0 {
			t.Fatalf("after Unimplemented: shmOff %v, %d shared puts", c.shmOff.Load(), c.sharedPuts.Load())
		}
	}
	checkIdle(t, c)
}

// TestExtentReader: extents read in order, bounds are checked, and the
// reader fails once closed.
func TestExtentReader(t *testing.T) {
	mem := []byte("0123456789")
	reader := func(ext ...[]extent) *extentReader {
		more := make(chan []extent, len(ext))
		for _, x := range ext {
			more <- x
		}
		close(more)
		return &extentReader{mem: mem, more: more, done: make(chan struct{}), ctxErr: func() error { return nil }}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(reader([]extent{{6, 3}, {0, 0}}, nil, []extent{{1, 2}})); err != nil || buf.String() != "67812" {
		t.Fatalf("read %q, %v", buf.String(), err)
	}
	buf.Reset()
	if _, err := io.Copy(&buf, reader([]extent{{6, 3}}, []extent{{1, 2}, {0, 0}})); err != nil || buf.String() != "67812" {
		t.Fatalf("WriteTo %q, %v", buf.String(), err)
	}
	r := reader([]extent{{0, 4}})
	r.closed.Store(true)
	if _, err := r.Read(make([]byte, 4)); err == nil {
		t.Fatal("read after close")
	}
	// The context ends before the last extents: Read fails.
	done := make(chan struct{})
	close(done)
	r = &extentReader{mem: mem, more: make(chan []extent), done: done, ctxErr: func() error { return context.Canceled }}
	if _, err := r.Read(make([]byte, 4)); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after the context ended: %v", err)
	}
	for _, ext := range [][]extent{{{-1, 1}}, {{0, 11}}, {{10, 1}}, {{5, -1}}, {{1 << 62, 1 << 62}}} {
		if checkExtents(ext, 10) == nil {
			t.Errorf("extents %v accepted", ext)
		}
	}
	if err := checkExtents([]extent{{0, 10}, {10, 0}}, 10); err != nil {
		t.Error(err)
	}
}

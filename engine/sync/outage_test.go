package sync

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/spool"
	"github.com/skyloop-engine/skyloop/sdk"
)

// setWritable fakes a storage outage (see enginetest.SetWritable); the
// directory is made writable again when the test ends.
func setWritable(t *testing.T, dir string, on bool) {
	t.Helper()
	if !on {
		t.Cleanup(func() { enginetest.SetWritable(dir, true) })
	}
	if err := enginetest.SetWritable(dir, on); err != nil {
		t.Fatal(err)
	}
}

// The disk sink's root becomes unwritable for a while:
// Accept keeps taking items, they wait in the spool, and all of them reach
// the sink once the root is back.
func TestItemsWaitOutABackendOutage(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	s := startDisk(t, root)
	sp, err := spool.Open(filepath.Join(dir, "spool"), []spool.Sink{s}, spool.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	accept := func(i int) []byte {
		data := bytes.Repeat([]byte{byte(i)}, 1000+i)
		if err := sp.Accept(ctx, spool.Item{Key: fmt.Sprintf("g/p/sessions/s/%08d.seg", i), Kind: spool.KindSegment, Data: data}); err != nil {
			t.Fatalf("Accept %d: %v", i, err)
		}
		return data
	}
	waitPending := func(cond func(int) bool, what string) {
		deadline := time.Now().Add(15 * time.Second)
		for !cond(sp.Stats().Sinks[0].Pending) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: stats %+v, parked %+v", what, sp.Stats().Sinks[0], sp.Failed())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	want := map[int][]byte{}
	for i := 0; i < 3; i++ {
		want[i] = accept(i)
	}
	waitPending(func(n int) bool { return n == 0 }, "before the outage")

	// Outage: the root becomes unwritable.
	setWritable(t, root, false)
	for i := 3; i < 13; i++ {
		want[i] = accept(i)
	}
	waitPending(func(n int) bool { return n == 10 }, "during the outage the items wait")
	if st := sp.Stats().Sinks[0]; st.Parked != 0 || st.Retries == 0 {
		t.Fatalf("during the outage: %+v (want retries, nothing parked)", st)
	}

	// Recovery.
	setWritable(t, root, true)
	waitPending(func(n int) bool { return n == 0 }, "after recovery")
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, data := range want {
		var buf bytes.Buffer
		if _, err := s.Get(ctx, fmt.Sprintf("g/p/sessions/s/%08d.seg", i), &buf, sdk.GetOptions{Length: -1}); err != nil || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("item %d: %v (got %d bytes)", i, err, buf.Len())
		}
	}
}

package sync

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/spool"
	"github.com/skyloop-engine/skyloop/sdk"
)

// Segments keep flowing into the spool while the plugin is SIGKILLed
// twice: it is relaunched, and every segment ends up stored once under its
// key with exactly the bytes accepted.
func TestSegmentsSurvivePluginKills(t *testing.T) {
	root := t.TempDir()
	s := startDisk(t, root)
	sp, err := spool.Open(t.TempDir(), []spool.Sink{s}, spool.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 60
	want := map[string][]byte{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("g/p/sessions/s/%08d.seg", i)
		data := make([]byte, 64<<10+rng.IntN(64<<10))
		for j := range data {
			data[j] = byte(rng.IntN(256))
		}
		want[key] = data
		if err := sp.Accept(ctx, spool.Item{Key: key, Kind: spool.KindSegment, Data: data}); err != nil {
			t.Fatal(err)
		}
		if i == 15 || i == 40 {
			if pid := s.Pid(); pid != 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond) // frames arrive over time, not all at once
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := sp.Stats().Sinks[0]
		if st.Pending == 0 {
			if st.Parked != 0 {
				t.Fatalf("items parked: %+v", sp.Failed())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Restarts() < 1 {
		t.Fatalf("restarts = %d, want at least 1 after two kills", s.Restarts())
	}
	var keys []string
	if err := s.List(ctx, "g/p/sessions/s/", func(o sdk.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != n {
		t.Fatalf("%d objects stored, want %d", len(keys), n)
	}
	for _, k := range keys {
		var buf bytes.Buffer
		if _, err := s.Get(ctx, k, &buf, sdk.GetOptions{Length: -1}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want[k]) {
			t.Fatalf("%s: stored bytes differ from those accepted", k)
		}
	}
}

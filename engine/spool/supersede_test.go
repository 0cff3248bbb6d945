package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

const catKey = "g/p/catalog/dev.json"

func record(v string) Item { return Item{Key: catKey, Kind: KindRecord, Data: []byte(v)} }

// putsOf returns the data of the sink's successful Puts of key, in order.
func putsOf(f *fakeSink, key string) []string {
	var out []string
	for _, p := range f.snapshot() {
		if p.key == key {
			out = append(out, string(p.data))
		}
	}
	return out
}

// requeueAll puts every parked item back, as a player's `skyloop spool
// retry` would, and waits until nothing is pending.
func requeueAll(t *testing.T, s *Spool, sink string) {
	t.Helper()
	for _, f := range s.Failed() {
		if err := s.Requeue(f.Sink, f.ID); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "requeued items delivered", 10*time.Second, func() bool { return sinkStats(t, s, sink).Pending == 0 })
}

// A record whose Put is in flight when two newer versions of its key are
// accepted: held in the sink's Put by a barrier until both are accepted.
// Whatever that Put does, the sink ends with the newest version; the
// middle one is never sent; a failed older one is neither retried nor
// parked (parked, it could be requeued over the newest, since a requeued
// item keeps its place by ID).
func TestNewerRecordSupersedesOneInFlight(t *testing.T) {
	for _, tc := range []struct {
		name      string
		result    error
		wantPuts  []string
		wantSuper int64
	}{
		{"older put succeeds", nil, []string{"v1", "v3"}, 1},
		{"older put fails permanently", sdk.PermanentError("put", catKey, errors.New("403 access denied")), []string{"v3"}, 2},
		{"older put fails retryably", sdk.RetryableError("put", catKey, errors.New("503 slow down")), []string{"v3"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newFake("a")
			entered, release := make(chan struct{}), make(chan struct{})
			first := true
			a.setHook(func(ctx context.Context, key string, data []byte) error {
				if key != catKey || string(data) != "v1" || !first {
					return nil
				}
				first = false // only the delivery goroutine calls the hook
				close(entered)
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				return tc.result
			})
			s := mustOpen(t, t.TempDir(), []Sink{a}, testOpts(t))
			accept(t, s, record("v1"))
			<-entered // v1 is in the sink's Put now
			accept(t, s, record("v2"))
			accept(t, s, record("v3"))
			close(release)
			waitFor(t, "delivery", 10*time.Second, func() bool {
				st := sinkStats(t, s, "a")
				return st.Pending == 0 && (st.Delivered > 0 || st.Parked > 0)
			})
			if f := s.Failed(); len(f) != 0 {
				t.Errorf("parked %+v: an older record with a newer one accepted must not be parked", f)
			}
			requeueAll(t, s, "a")
			got := putsOf(a, catKey)
			if len(got) == 0 || got[len(got)-1] != "v3" {
				t.Fatalf("the sink received %q: it must end with v3, the newest", got)
			}
			if !equalStrings(got, tc.wantPuts) {
				t.Errorf("the sink received %q, want %q (v2 was superseded while queued)", got, tc.wantPuts)
			}
			if st := sinkStats(t, s, "a"); st.Superseded != tc.wantSuper {
				t.Errorf("Superseded = %d, want %d", st.Superseded, tc.wantSuper)
			}
			waitFor(t, "payloads deleted", 5*time.Second, func() bool { return s.Stats().Items == 0 })
		})
	}
}

// A record parked at a sink, then a newer one of its key accepted: the
// parked one goes (it cannot be requeued over the newer one), the newer
// one is delivered. Saves of one key are not records: both are delivered.
func TestNewerRecordSupersedesAParkedOne(t *testing.T) {
	a := newFake("a")
	a.setHook(func(_ context.Context, key string, data []byte) error {
		if key == catKey && string(data) == "v1" {
			return sdk.PermanentError("put", key, errors.New("403 access denied"))
		}
		return nil
	})
	dir := t.TempDir()
	s := mustOpen(t, dir, []Sink{a}, testOpts(t))
	accept(t, s, record("v1"))
	waitFor(t, "v1 parked", 10*time.Second, func() bool { return len(s.Failed()) == 1 })
	parkedID := s.Failed()[0].ID
	accept(t, s, record("v2"))
	accept(t, s, Item{Key: saveKey(1), Kind: KindSave, Data: []byte("s1")})
	accept(t, s, Item{Key: saveKey(1), Kind: KindSave, Data: []byte("s2")})
	waitFor(t, "delivery", 10*time.Second, func() bool { return sinkStats(t, s, "a").Pending == 0 })
	if f := s.Failed(); len(f) != 0 {
		t.Fatalf("still parked: %+v", f)
	}
	if err := s.Requeue("a", parkedID); !errors.Is(err, ErrNoItem) {
		t.Fatalf("Requeue of the superseded record: %v, want ErrNoItem", err)
	}
	requeueAll(t, s, "a")
	if got := putsOf(a, catKey); !equalStrings(got, []string{"v2"}) {
		t.Fatalf("the sink received %q, want only v2", got)
	}
	if got := putsOf(a, saveKey(1)); !equalStrings(got, []string{"s1", "s2"}) {
		t.Fatalf("saves of one key: the sink received %q, want both", got)
	}
	mustClose(t, s)
	if _, err := os.Stat(filepath.Join(dir, dirSinks, "a", idName(parkedID, extParked))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the superseded record's parked marker is still on disk (%v): the next Open would park it again", err)
	}
}

// A spool left with a parked record and a newer version of its key
// pending (a crash between committing the newer one and superseding the
// older): Open supersedes the older one, so it cannot be requeued over
// the newer one.
func TestReplaySupersedesAnOlderRecord(t *testing.T) {
	dir := t.TempDir()
	a := newFake("a")
	a.setHook(func(_ context.Context, key string, _ []byte) error {
		return sdk.PermanentError("put", key, errors.New("403 access denied"))
	})
	s := mustOpen(t, dir, []Sink{a}, testOpts(t))
	accept(t, s, record("v1"))
	waitFor(t, "v1 parked", 10*time.Second, func() bool { return len(s.Failed()) == 1 })
	v1 := s.Failed()[0].ID
	s.crash()

	// The newer version, committed as Accept commits it.
	f, err := os.Create(filepath.Join(dir, dirData, idName(v1+1, extItem)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := writePayload(f, header{Key: catKey, Kind: KindRecord, Sinks: []string{"a"}, Accepted: time.Now()}, []byte("v2"), nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	a2 := newFake("a")
	s2 := mustOpen(t, dir, []Sink{a2}, testOpts(t))
	waitFor(t, "delivery", 10*time.Second, func() bool { return sinkStats(t, s2, "a").Pending == 0 })
	if f := s2.Failed(); len(f) != 0 {
		t.Errorf("after Open the older record is still parked: %+v", f)
	}
	requeueAll(t, s2, "a")
	if got := putsOf(a2, catKey); !equalStrings(got, []string{"v2"}) {
		t.Fatalf("the sink received %q, want only v2", got)
	}
	waitFor(t, "payloads deleted", 5*time.Second, func() bool { return s2.Stats().Items == 0 })
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

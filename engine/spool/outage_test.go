package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/sdk"
)

// downSink fails every Put as retryable: nothing leaves the spool.
func downSink(name string) *fakeSink {
	f := newFake(name)
	f.hook = func(ctx context.Context, key string, data []byte) error {
		return sdk.RetryableError("put", key, errors.New("sink down"))
	}
	return f
}

// An outage of a sink: one line when it goes down, one when it is back
// with its backlog delivered, however many items and retries there were;
// Stats say Down while it lasts and count the outage.
func TestOutageLoggedOnceEachWay(t *testing.T) {
	logs := &enginetest.LogBuffer{}
	var mu sync.Mutex
	down := true
	sink := newFake("cloud")
	sink.hook = func(ctx context.Context, key string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return sdk.RetryableError("put", key, errors.New("connection refused"))
		}
		return nil
	}
	s := mustOpen(t, t.TempDir(), []Sink{sink}, Options{
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	defer mustClose(t, s)
	for i := range 30 {
		if err := s.Accept(context.Background(), Item{Key: fmt.Sprintf("g/p/sessions/S/%08d.seg", i), Kind: KindSegment, Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "retries while down", 5*time.Second, func() bool { return s.Stats().Sinks[0].Retries >= 20 })
	if st := s.Stats().Sinks[0]; !st.Down || st.Outages != 1 || st.DownSince.IsZero() {
		t.Fatalf("stats while down: %+v", st)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	waitFor(t, "backlog delivered", 5*time.Second, func() bool { return s.Stats().Sinks[0].Delivered == 30 })
	waitFor(t, "the back line", 5*time.Second, func() bool { return strings.Count(logs.String(), "sink is back") == 1 })
	if n := strings.Count(logs.String(), "sink is down"); n != 1 {
		t.Errorf("%d 'sink is down' lines for one outage, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "backlog_items=30") {
		t.Errorf("the back line does not give the backlog of 30 items:\n%s", logs.String())
	}
	if st := s.Stats().Sinks[0]; st.Down {
		t.Errorf("still Down after delivering: %+v", st)
	}
}

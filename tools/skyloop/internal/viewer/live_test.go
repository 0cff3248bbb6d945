package viewer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

// countingStore counts the requests the viewer makes of its store.
type countingStore struct {
	memStore
	lists, gets atomic.Int64
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	c.lists.Add(1)
	return c.memStore.List(ctx, prefix, fn)
}

func (c *countingStore) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	c.gets.Add(1)
	return c.memStore.Get(ctx, key, w, opts)
}

// requests returns the Lists and Gets made since the last call.
func (c *countingStore) requests() (lists, gets int64) {
	return c.lists.Swap(0), c.gets.Swap(0)
}

func liveSummary(t *testing.T, h *Handler, query string) summaryJSON {
	t.Helper()
	rec := get(t, h, "GET", sessPath+query)
	if rec.Code != 200 {
		t.Fatalf("summary: %d %s", rec.Code, rec.Body)
	}
	var sum summaryJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

// A session that grows while the viewer follows it: each poll of its
// summary lists that one session and reads only the segment that is new;
// ?from leaves out the frames the follower has; the listing says LIVE until
// the end record lands. Ended sessions beside it cost nothing per poll
// once listed.
func TestFollowingAGrowingSession(t *testing.T) {
	st := &countingStore{memStore: memStore{Backend: synctest.NewMemoryBackend(), name: "mem"}}
	for i := range 40 { // ended sessions: read on the first listing only
		id := segment.NewSessionID(t0.Add(-time.Duration(i+1) * time.Hour))
		writeSession(t, st.Backend, id, [][]uint64{{0, 1, 2}, {3, 4}})
		b, _ := segment.MarshalManifest(segment.Manifest{Game: game, Player: player, Session: id, Start: t0, End: t0,
			Width: testW, Height: testH, Segments: 2, Sequenced: 5, Frames: 5})
		st.Backend.Put(context.Background(), segment.ManifestKey(segment.SessionPrefix(game, player, id)), bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))})
	}
	prefix := segment.SessionPrefix(game, player, sessionID)
	writeSegment(t, st.Backend, prefix, t0, 0, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	h := New([]Store{st}, Options{ListTTL: time.Hour})
	t.Cleanup(h.Close)
	h.liveCheck = 0

	rows := sessionsOf(t, h)
	if len(rows) != 41 || !rowFor(t, rows, sessionID).Live {
		t.Fatalf("%d rows; the live one: %+v", len(rows), rowFor(t, rows, sessionID))
	}
	st.requests()
	// A poll of the listing with nothing new: one List, no Get.
	expire(h)
	sessionsOf(t, h)
	if l, g := st.requests(); l != 1 || g != 0 {
		t.Fatalf("a listing with nothing changed made %d Lists and %d Gets, want 1 and 0", l, g)
	}

	sum := liveSummary(t, h, "")
	if len(sum.Frames) != 10 || !sum.Session.Live || sum.Session.Ended {
		t.Fatalf("summary: %d frames, live %v, ended %v", len(sum.Frames), sum.Session.Live, sum.Session.Ended)
	}
	for i := 1; i <= 5; i++ {
		from := uint64(i * 10)
		writeSegment(t, st.Backend, prefix, t0, i, []uint64{from, from + 1, from + 2, from + 3, from + 4, from + 5, from + 6, from + 7, from + 8, from + 9})
		st.requests()
		sum = liveSummary(t, h, "?from="+itoa(from))
		l, g := st.requests()
		if l != 1 || g > 3 {
			t.Fatalf("poll %d: %d Lists and %d Gets for one new segment, want 1 List and at most 3 Gets (its header and index)", i, l, g)
		}
		if len(sum.Frames) != 10 || sum.Frames[0].Seq != from || sum.LastSeq != from+9 || sum.Segments != i+1 {
			t.Fatalf("poll %d from %d: frames %+v, last %d, %d segments", i, from, sum.Frames, sum.LastSeq, sum.Segments)
		}
		// The new frames can be fetched at once.
		if rec := get(t, h, "GET", sessPath+"/frames/"+itoa(from+9)+".png"); rec.Code != 200 {
			t.Fatalf("frame %d of the new segment: %d %s", from+9, rec.Code, rec.Body)
		}
		// Nothing new: no Get.
		st.requests()
		liveSummary(t, h, "?from="+itoa(from+10))
		if _, g := st.requests(); g != 0 {
			t.Fatalf("poll with nothing new: %d Gets", g)
		}
	}

	b, _ := segment.MarshalManifest(segment.Manifest{Game: game, Player: player, Session: sessionID, Start: t0, End: t0.Add(time.Second),
		Width: testW, Height: testH, Segments: 6, Sequenced: 60, Frames: 60})
	st.Backend.Put(context.Background(), segment.ManifestKey(prefix), bytes.NewReader(b), sdk.PutOptions{Size: int64(len(b))})
	sum = liveSummary(t, h, "?from=60")
	if !sum.Session.Ended || sum.Session.Live || len(sum.Frames) != 0 || sum.Session.Frames != 60 {
		t.Fatalf("after the end record: ended %v live %v, %d new frames, %d in all", sum.Session.Ended, sum.Session.Live, len(sum.Frames), sum.Session.Frames)
	}
	expire(h)
	if r := rowFor(t, sessionsOf(t, h), sessionID); !r.Ended || r.Live {
		t.Fatalf("listing after the end record: %+v", r)
	}
	if rec := get(t, h, "GET", sessPath+"?from=x"); rec.Code != 400 {
		t.Fatalf("from=x: %d, want 400", rec.Code)
	}
}

// expire makes the next request list the stores again.
func expire(h *Handler) {
	h.listMu.Lock()
	defer h.listMu.Unlock()
	h.list.at = time.Time{}
}

func sessionsOf(t *testing.T, h *Handler) []sessionJSON {
	t.Helper()
	rec := get(t, h, "GET", "/api/sessions")
	if rec.Code != 200 {
		t.Fatalf("sessions: %d %s", rec.Code, rec.Body)
	}
	var rows []sessionJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func rowFor(t *testing.T, rows []sessionJSON, id string) sessionJSON {
	t.Helper()
	for _, r := range rows {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no row for %s in %d rows", id, len(rows))
	return sessionJSON{}
}

package saves

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// A write on A is read on B after one poll.
func TestTwoDevicesSync(t *testing.T) {
	r := newMemRemote()
	a := device(t, t.TempDir(), r, nil)
	b := device(t, t.TempDir(), r, nil)
	var p progress
	p.HighScore.Offer(10)
	p.Name.Set("from a")
	if _, err := a.Save("progress", &p, Meta{Description: "a1"}); err != nil {
		t.Fatal(err)
	}
	flush(t, a)
	syncNow(t, b)
	var got progress
	meta, err := b.Load("progress", &got)
	if err != nil || got.HighScore.Value() != 10 || got.Name.Get() != "from a" || meta.Description != "a1" {
		t.Fatalf("B read %+v, %+v, %v", got, meta, err)
	}
	changes := b.TakeChanges()
	if len(changes) != 1 || changes[0].Slot != "progress" || changes[0].Conflict != nil {
		t.Fatalf("B's changes %+v, want one for progress", changes)
	}
	select {
	case <-b.Changes():
	default:
		t.Fatal("no change signal")
	}
	// B builds on it; A sees B's version, with no merge needed.
	got.HighScore.Offer(30)
	if _, err := b.Save("progress", &got, Meta{}); err != nil {
		t.Fatal(err)
	}
	flush(t, b)
	syncNow(t, a)
	var back progress
	a.Load("progress", &back)
	if back.HighScore.Value() != 30 {
		t.Fatalf("A read high score %d, want 30", back.HighScore.Value())
	}
	for _, v := range a.History("progress") {
		if v.Made != "save" {
			t.Fatalf("a merge was made where none was needed: %+v", v)
		}
	}
}

// Both offline, both write, reconnect: typed fields merge by their rules on
// both devices, to the same version, and merging again changes nothing.
func TestOfflineWritesMergeByRule(t *testing.T) {
	r := newMemRemote()
	a := device(t, t.TempDir(), r, nil)
	b := device(t, t.TempDir(), r, nil)
	var base progress
	base.Coins.Add(1)
	a.Save("progress", &base, Meta{})
	flush(t, a)
	syncNow(t, b)

	r.setOffline(true)
	var pa, pb progress
	a.Load("progress", &pa)
	b.Load("progress", &pb)
	pa.Coins.Add(5)
	pa.HighScore.Offer(500)
	pa.Achieved.Unlock("a-only")
	pa.Achieved.Unlock("both")
	time.Sleep(2 * time.Millisecond)
	pb.Coins.Add(3)
	pb.HighScore.Offer(300)
	pb.Achieved.Unlock("b-only")
	pb.Achieved.Unlock("both")
	pa.BestLap.Offer(70)
	pb.BestLap.Offer(60)
	if _, err := a.Save("progress", &pa, Meta{Progress: 0.5}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Save("progress", &pb, Meta{Progress: 0.4}); err != nil {
		t.Fatal(err)
	}
	r.setOffline(false)
	flush(t, a)
	flush(t, b)
	syncNow(t, a)
	syncNow(t, b)
	syncNow(t, a)

	var ra, rb progress
	va, _ := a.Load("progress", &ra)
	vb, _ := b.Load("progress", &rb)
	for name, got := range map[string]progress{"A": ra, "B": rb} {
		lap, _ := got.BestLap.Value()
		if got.Coins.Value() != 9 || got.HighScore.Value() != 500 || lap != 60 ||
			strings.Join(got.Achieved.Names(), ",") != "a-only,b-only,both" {
			t.Errorf("%s merged to coins %d (want 1+5+3=9), best %d (want 500), lap %d (want 60), unlocks %v",
				name, got.Coins.Value(), got.HighScore.Value(), lap, got.Achieved.Names())
		}
	}
	if va.ID != vb.ID || va.Made != "merge" || len(va.Parents) != 2 || len(va.Conflicts) != 0 {
		t.Fatalf("A's current %+v and B's %+v: want the same merge of the two writes, without conflicts", va, vb)
	}
	if ra.Achieved.When("both").After(rb.Achieved.When("both")) || !ra.Achieved.When("both").Equal(minTime(pa.Achieved.When("both"), pb.Achieved.When("both"))) {
		t.Errorf("unlock time of \"both\" is %v, want the earlier of %v and %v", ra.Achieved.When("both"), pa.Achieved.When("both"), pb.Achieved.When("both"))
	}
	if va.Progress != 0.5 {
		t.Errorf("merge progress %v, want the higher 0.5", va.Progress)
	}
	// Quiescent: syncing again makes no new version.
	n := len(r.keys(t, Prefix("g", "p")))
	syncNow(t, a)
	syncNow(t, b)
	if m := len(r.keys(t, Prefix("g", "p"))); m != n {
		t.Fatalf("another round of syncs wrote %d new objects: merges loop", m-n)
	}
	if len(a.History("progress")) != 4 {
		t.Fatalf("A's history %d versions, want base, two writes and the merge", len(a.History("progress")))
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Value merges by hybrid logical clock: a device whose wall clock is an hour
// behind still wins with a write it made after seeing the other's.
func TestValueLastWriterByHybridClock(t *testing.T) {
	r := newMemRemote()
	a := device(t, t.TempDir(), r, nil)
	slow := func() time.Time { return time.Now().Add(-time.Hour) }
	b := device(t, t.TempDir(), r, func(o *Options) { o.Now = slow })
	var p progress
	p.Name.Set("a's name")
	a.Save("progress", &p, Meta{})
	flush(t, a)
	syncNow(t, b)
	var pb progress
	b.Load("progress", &pb)
	pb.Name.Set("b's later name")
	r.setOffline(true)
	b.Save("progress", &pb, Meta{})
	// Meanwhile A writes something else (concurrent), leaving Name alone.
	var pa progress
	a.Load("progress", &pa)
	pa.Coins.Add(1)
	a.Save("progress", &pa, Meta{})
	r.setOffline(false)
	flush(t, a)
	flush(t, b)
	syncNow(t, a)
	syncNow(t, b)
	var got progress
	a.Load("progress", &got)
	if got.Name.Get() != "b's later name" || got.Coins.Value() != 1 {
		t.Fatalf("merged name %q coins %d, want B's later name (its clock is behind, its write was after) and 1 coin", got.Name.Get(), got.Coins.Value())
	}
	// Concurrent Sets: the later stamp wins, whatever the wall clock says
	// and on both devices alike.
	r.setOffline(true)
	a.Load("progress", &pa)
	b.Load("progress", &pb)
	pa.Name.Set("a2")
	a.Save("progress", &pa, Meta{})
	time.Sleep(2 * time.Millisecond)
	pb.Name.Set("b2")
	b.Save("progress", &pb, Meta{})
	r.setOffline(false)
	flush(t, a)
	flush(t, b)
	syncNow(t, a)
	syncNow(t, b)
	var ga, gb progress
	a.Load("progress", &ga)
	b.Load("progress", &gb)
	if ga.Name.Get() != gb.Name.Get() {
		t.Fatalf("devices disagree: %q vs %q", ga.Name.Get(), gb.Name.Get())
	}
}

type plain struct {
	Level int
	Coins Counter
}

// Plain values changed on both sides are decided by the policy, the same
// way on both devices; nothing is lost: both sides stay in History.
func TestPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy    Policy
		wantLevel int
	}{
		{MostRecent, 2},   // B wrote last
		{MostProgress, 7}, // A has more progress
		{LongestPlay, 2},  // B played longer
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			r := newMemRemote()
			pol := func(o *Options) { o.Policy = tc.policy }
			a := device(t, t.TempDir(), r, pol)
			b := device(t, t.TempDir(), r, pol)
			r.setOffline(true)
			a.Save("s", &plain{Level: 7}, Meta{Progress: 0.9, PlayTime: time.Minute})
			time.Sleep(2 * time.Millisecond)
			b.Save("s", &plain{Level: 2}, Meta{Progress: 0.1, PlayTime: time.Hour})
			r.setOffline(false)
			flush(t, a)
			flush(t, b)
			syncNow(t, a)
			syncNow(t, b)
			var ga, gb plain
			va, _ := a.Load("s", &ga)
			vb, _ := b.Load("s", &gb)
			if ga.Level != tc.wantLevel || gb.Level != tc.wantLevel || va.ID != vb.ID {
				t.Fatalf("A level %d (%s), B level %d (%s); want both %d", ga.Level, va.ID, gb.Level, vb.ID, tc.wantLevel)
			}
			if va.Made != "policy:"+tc.policy.String() || len(va.Conflicts) != 1 || va.Conflicts[0] != "/Level" {
				t.Fatalf("merge %+v: want made by the policy, conflict on /Level", va)
			}
			if len(a.History("s")) != 3 {
				t.Fatalf("history %d, want both sides and the merge", len(a.History("s")))
			}
		})
	}
}

// Manual: both versions are kept and the game is told; Load keeps each
// device's own side until Resolve; a resolution ends it everywhere.
func TestManualConflictKeepsBoth(t *testing.T) {
	r := newMemRemote()
	man := func(o *Options) { o.Policy = Manual }
	a := device(t, t.TempDir(), r, man)
	b := device(t, t.TempDir(), r, man)
	r.setOffline(true)
	a.Save("s", []byte("A's world"), Meta{Description: "castle"})
	b.Save("s", []byte("B's world"), Meta{Description: "forest"})
	r.setOffline(false)
	flush(t, a)
	flush(t, b)
	syncNow(t, a)
	syncNow(t, b)
	var da, db []byte
	a.Load("s", &da)
	b.Load("s", &db)
	if string(da) != "A's world" || string(db) != "B's world" {
		t.Fatalf("during the conflict A reads %q, B %q: each must keep its own side", da, db)
	}
	ch := a.TakeChanges()
	if len(ch) != 1 || ch[0].Conflict == nil || len(ch[0].Conflict.Versions) != 2 {
		t.Fatalf("A's changes %+v, want one conflict with both versions", ch)
	}
	descs := ch[0].Conflict.Versions[0].Description + "," + ch[0].Conflict.Versions[1].Description
	if descs != "forest,castle" && descs != "castle,forest" {
		t.Fatalf("conflict versions' metadata %q", descs)
	}
	if len(a.Conflicts()) != 1 {
		t.Fatal("Conflicts() empty")
	}
	// Saving on A continues A's side; the conflict stays open.
	a.Save("s", []byte("A's world, more"), Meta{})
	flush(t, a)
	syncNow(t, b)
	if len(b.Conflicts()) != 1 {
		t.Fatal("a save on one side resolved the conflict silently")
	}
	// B's player picks A's latest.
	var keep string
	for _, v := range b.Conflicts()[0].Versions {
		if v.DeviceID != b.deviceID {
			keep = v.ID
		}
	}
	if _, err := b.Resolve("s", keep); err != nil {
		t.Fatal(err)
	}
	flush(t, b)
	syncNow(t, a)
	a.Load("s", &da)
	b.Load("s", &db)
	if string(da) != "A's world, more" || string(db) != "A's world, more" || len(a.Conflicts()) != 0 || len(b.Conflicts()) != 0 {
		t.Fatalf("after Resolve: A %q, B %q, conflicts %d/%d", da, db, len(a.Conflicts()), len(b.Conflicts()))
	}
	// B's side is still in history.
	found := false
	for _, v := range b.History("s") {
		if p, _, _ := b.Read("s", v.ID); string(p) == "B's world" {
			found = true
		}
	}
	if !found {
		t.Fatal("the side not kept is gone from history")
	}
}

// Resolving (or restoring) keeps the chosen version's plain values but
// loses no count, unlock or best score that only the other side held.
func TestResolveKeepsTypedFieldsOfEveryHead(t *testing.T) {
	r := newMemRemote()
	man := func(o *Options) { o.Policy = Manual }
	a := device(t, t.TempDir(), r, man)
	b := device(t, t.TempDir(), r, man)
	r.setOffline(true)
	var pa, pb progress
	pa.Level, pb.Level = 4, 9
	pa.Coins.Add(2)
	pb.Coins.Add(5)
	pb.Achieved.Unlock("b-only")
	pb.HighScore.Offer(900)
	va, _ := a.Save("progress", &pa, Meta{})
	b.Save("progress", &pb, Meta{})
	r.setOffline(false)
	flush(t, a)
	flush(t, b)
	syncNow(t, a)
	if len(a.Conflicts()) != 1 {
		t.Fatal("no conflict")
	}
	if _, err := a.Resolve("progress", va.ID); err != nil {
		t.Fatal(err)
	}
	var got progress
	a.Load("progress", &got)
	if got.Level != 4 || got.Coins.Value() != 7 || !got.Achieved.Has("b-only") || got.HighScore.Value() != 900 {
		t.Fatalf("after resolving to A's side: level %d (want A's 4), coins %d (want 7), unlocks %v, best %d (want 900)",
			got.Level, got.Coins.Value(), got.Achieved.Names(), got.HighScore.Value())
	}
	// Restoring the first version keeps the counts since.
	if _, err := a.Restore("progress", va.ID); err != nil {
		t.Fatal(err)
	}
	a.Load("progress", &got)
	if got.Level != 4 || got.Coins.Value() != 7 || got.HighScore.Value() != 900 {
		t.Fatalf("after restore: level %d coins %d best %d", got.Level, got.Coins.Value(), got.HighScore.Value())
	}
}

func TestRestore(t *testing.T) {
	s := device(t, t.TempDir(), nil, nil)
	v1, _ := s.Save("s", []byte("one"), Meta{})
	s.Save("s", []byte("two"), Meta{})
	if _, err := s.Restore("s", v1.ID); err != nil {
		t.Fatal(err)
	}
	var got []byte
	cur, _ := s.Load("s", &got)
	if string(got) != "one" || cur.Made != "restore" || cur.Restored != v1.ID || len(s.History("s")) != 3 {
		t.Fatalf("after restore: %q %+v (history %d)", got, cur, len(s.History("s")))
	}
	if _, err := s.Restore("s", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore of an unknown version: %v", err)
	}
}

// Remote objects that are not saves are refused with a clear log line and
// never break a sync; one that claims another slot is refused.
func TestForeignRemoteObjects(t *testing.T) {
	r := newMemRemote()
	a := device(t, t.TempDir(), r, nil)
	a.Save("s", []byte("real"), Meta{})
	flush(t, a)
	ctx := context.Background()
	r.upload(ctx, "g/p/saves/s/0000000000001.000000-dbadbadbad0.sav", []byte("not a save"))
	r.upload(ctx, "g/p/saves/notes.txt", []byte("hello"))
	// A real version copied under another slot's key.
	keys := r.keys(t, "g/p/saves/s/")
	for _, k := range keys {
		if strings.HasSuffix(k, "-"+a.deviceID+".sav") {
			var b strings.Builder
			r.Backend.Get(ctx, k, &b, sdk.GetOptions{})
			r.upload(ctx, strings.Replace(k, "/saves/s/", "/saves/other/", 1), []byte(b.String()))
		}
	}
	b := device(t, t.TempDir(), r, nil)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var got []byte
	if _, err := b.Load("s", &got); err != nil || string(got) != "real" {
		t.Fatalf("real slot: %q %v", got, err)
	}
	if _, err := b.Load("other", &got); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a version moved to another slot was accepted: %v", err)
	}
	refused := b.Refused()
	if len(refused) != 2 || refused[0].Sink != "memory" || !errors.Is(refused[0].Err, ErrNotSave) && !errors.Is(refused[1].Err, ErrNotSave) ||
		!errors.Is(refused[0].Err, ErrTampered) && !errors.Is(refused[1].Err, ErrTampered) {
		t.Fatalf("Refused() = %+v, want the garbage object (not a save) and the moved one (tampered)", refused)
	}
}

// A game's own Merge decides when it is given: here the union of lines of
// a bytes slot, the same on both devices; one that panics falls back to
// the rules.
func TestCustomMerge(t *testing.T) {
	union := func(slot string, a, b []byte) ([]byte, bool) {
		if slot != "journal" {
			return nil, false
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(string(a)+"\n"+string(b), "\n") {
			if l != "" {
				lines[l] = true
			}
		}
		var out []string
		for l := range lines {
			out = append(out, l)
		}
		sort.Strings(out)
		return []byte(strings.Join(out, "\n")), true
	}
	r := newMemRemote()
	withMerge := func(o *Options) { o.Merge = union }
	a := device(t, t.TempDir(), r, withMerge)
	b := device(t, t.TempDir(), r, withMerge)
	r.setOffline(true)
	a.Save("journal", []byte("met the king\nfound a key"), Meta{})
	b.Save("journal", []byte("found a key\nlost a boat"), Meta{})
	r.setOffline(false)
	flush(t, a)
	flush(t, b)
	syncNow(t, a)
	syncNow(t, b)
	var ja, jb []byte
	va, _ := a.Load("journal", &ja)
	vb, _ := b.Load("journal", &jb)
	if string(ja) != "found a key\nlost a boat\nmet the king" || string(jb) != string(ja) || va.ID != vb.ID || va.Made != "merge:game" {
		t.Fatalf("A %q (%s, %s), B %q (%s)", ja, va.ID, va.Made, jb, vb.ID)
	}

	// A Merge that panics: the policy decides instead, nothing breaks.
	r2 := newMemRemote()
	boom := func(o *Options) { o.Merge = func(string, []byte, []byte) ([]byte, bool) { panic("game bug") } }
	c := device(t, t.TempDir(), r2, boom)
	d := device(t, t.TempDir(), r2, boom)
	r2.setOffline(true)
	c.Save("s", []byte("c"), Meta{})
	time.Sleep(2 * time.Millisecond)
	d.Save("s", []byte("d"), Meta{})
	r2.setOffline(false)
	flush(t, c)
	flush(t, d)
	syncNow(t, c)
	var got []byte
	if v, _ := c.Load("s", &got); string(got) != "d" || v.Made != "policy:most_recent" {
		t.Fatalf("after a panicking Merge: %q %s", got, v.Made)
	}
}

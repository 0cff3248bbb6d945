package saves

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/skyloop-engine/skyloop/sdk"
)

// link is one device's connection to the shared backend: it can be cut.
type link struct {
	m       *memRemote
	offline bool
}

func (l *link) Name() string { return "shared" }

func (l *link) err() error {
	if l.offline {
		return sdk.RetryableError("op", "", fmt.Errorf("device offline"))
	}
	return nil
}

func (l *link) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	if err := l.err(); err != nil {
		return err
	}
	return l.m.Backend.List(ctx, prefix, fn)
}

func (l *link) Get(ctx context.Context, key string, w io.Writer, o sdk.GetOptions) (sdk.ObjectInfo, error) {
	if err := l.err(); err != nil {
		return sdk.ObjectInfo{}, err
	}
	return l.m.Backend.Get(ctx, key, w, o)
}

func (l *link) Delete(ctx context.Context, key string) error {
	if err := l.err(); err != nil {
		return err
	}
	return l.m.Backend.Delete(ctx, key)
}

func (l *link) upload(ctx context.Context, key string, data []byte) error {
	if err := l.err(); err != nil {
		return err
	}
	_, err := l.m.Backend.Put(ctx, key, bytes.NewReader(data), sdk.PutOptions{})
	return err
}

type game struct {
	Coins  Counter
	Score  Best
	Lap    Least
	Badges Unlocks
	Name   Value[string]
	Level  int // plain: decided by the policy
}

// TestRandomSchedules runs 1000 randomized schedules of saves, syncs,
// crashes (a store closed with its uploads still pending, reopened) and
// network cuts across 2–3 devices sharing one backend, then reconnects
// everyone and checks: all devices converge on one version and content;
// counters are exact; the best score and lap are the extremes offered;
// no unlock is lost; the name is the last write by clock (no silent
// overwrite); every version ever saved is stored or included in the final
// one (no lost version).
func TestRandomSchedules(t *testing.T) {
	fsyncFile = func(*os.File) error { return nil }
	t.Cleanup(func() { fsyncFile = (*os.File).Sync })
	n := 1000
	if testing.Short() {
		n = 100
	}
	for seed := range n {
		runSchedule(t, uint64(seed))
		if t.Failed() {
			t.Fatalf("seed %d failed (go test -run TestRandomSchedules to reproduce; schedules are deterministic by seed)", seed)
		}
	}
}

type saved struct {
	id    string
	clock HLC
	dev   string
}

func runSchedule(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	shared := newMemRemote()
	ndev := 2 + rng.IntN(2)
	root := scheduleDir(t)
	policy := []Policy{MostRecent, MostProgress, LongestPlay}[rng.IntN(3)]
	type dev struct {
		dir   string
		link  *link
		store *Store
	}
	devs := make([]*dev, ndev)
	open := func(d *dev) {
		s, err := Open(Options{Dir: d.dir, Game: "g", Player: "p", Poll: -1, Policy: policy, History: 4 + rng.IntN(8),
			Remotes: []Remote{d.link}, Upload: d.link.upload, Logger: quietLogger()})
		if err != nil {
			t.Fatalf("seed %d: open: %v", seed, err)
		}
		d.store = s
	}
	for i := range devs {
		devs[i] = &dev{dir: filepath.Join(root, fmt.Sprint(i)), link: &link{m: shared}}
		open(devs[i])
	}
	var (
		coins      int64
		best       int64 = -1
		lap        int64 = 1 << 62
		badges           = map[string]bool{}
		nameWrites []struct {
			at  HLC
			by  string
			val string
		}
		all []saved
	)
	ctx := context.Background()
	steps := 20 + rng.IntN(30)
	for step := range steps {
		d := devs[rng.IntN(ndev)]
		switch op := rng.IntN(10); {
		case op < 6: // play and save
			var g game
			if _, err := d.store.Load("game", &g); err != nil && step > 0 && !isNotFound(err) {
				t.Fatalf("seed %d: load: %v", seed, err)
			}
			switch rng.IntN(5) {
			case 0:
				k := int64(1 + rng.IntN(5))
				g.Coins.Add(k)
				coins += k
			case 1:
				v := int64(rng.IntN(1000))
				g.Score.Offer(v)
				best = max(best, v)
			case 2:
				v := int64(rng.IntN(1000))
				g.Lap.Offer(v)
				lap = min(lap, v)
			case 3:
				b := fmt.Sprintf("badge%d", rng.IntN(6))
				g.Badges.Unlock(b)
				badges[b] = true
			case 4:
				g.Name.Set(fmt.Sprintf("name-%d-%d", seed, step))
			}
			g.Level = rng.IntN(10)
			v, err := d.store.Save("game", &g, Meta{Progress: rng.Float64(), PlayTime: 0})
			if err != nil {
				t.Fatalf("seed %d: save: %v", seed, err)
			}
			all = append(all, saved{v.ID, v.Clock, v.DeviceID})
			if g.Name.by == v.DeviceID && g.Name.at == v.Clock {
				nameWrites = append(nameWrites, struct {
					at  HLC
					by  string
					val string
				}{g.Name.at, g.Name.by, g.Name.v})
			}
		case op < 8:
			if !d.link.offline {
				d.store.Flush(ctx) // offline, uploads wait for the link
			}
			d.store.Sync(ctx)
		case op < 9:
			d.link.offline = !d.link.offline
		default: // crash: stop with uploads pending, reopen
			d.store.Close()
			open(d)
		}
	}
	// Reconnect everyone and sync until nothing new is written.
	for _, d := range devs {
		d.link.offline = false
	}
	for round := 0; ; round++ {
		before := len(shared.keys(t, ""))
		for _, d := range devs {
			d.store.Flush(ctx)
			if err := d.store.Sync(ctx); err != nil {
				t.Fatalf("seed %d: sync: %v", seed, err)
			}
			d.store.Flush(ctx)
		}
		if len(shared.keys(t, "")) == before && round > 0 {
			break
		}
		if round > 20 {
			t.Fatalf("seed %d: no quiescence after 20 rounds: merges loop", seed)
		}
	}
	var first Version
	var firstGame game
	for i, d := range devs {
		var g game
		v, err := d.store.Load("game", &g)
		if err != nil {
			if len(all) == 0 && isNotFound(err) {
				continue
			}
			t.Fatalf("seed %d: device %d load: %v", seed, i, err)
		}
		if heads := d.store.headsLocked("game"); len(heads) != 1 {
			t.Fatalf("seed %d: device %d has %d heads after syncing", seed, i, len(heads))
		}
		if i == 0 {
			first, firstGame = v, g
		} else if v.ID != first.ID || g.Level != firstGame.Level || g.Name.v != firstGame.Name.v {
			t.Fatalf("seed %d: device %d at %s (level %d, name %q), device 0 at %s (level %d, name %q): not converged",
				seed, i, v.ID, g.Level, g.Name.v, first.ID, firstGame.Level, firstGame.Name.v)
		}
		if g.Coins.Value() != coins {
			t.Fatalf("seed %d: device %d counts %d coins, %d were added", seed, i, g.Coins.Value(), coins)
		}
		if best >= 0 && g.Score.Value() != best {
			t.Fatalf("seed %d: best %d, want %d", seed, g.Score.Value(), best)
		}
		if l, ok := g.Lap.Value(); lap < 1<<62 && (!ok || l != lap) {
			t.Fatalf("seed %d: lap %d, want %d", seed, l, lap)
		}
		for b := range badges {
			if !g.Badges.Has(b) {
				t.Fatalf("seed %d: badge %s lost", seed, b)
			}
		}
		if len(nameWrites) > 0 {
			last := slices.MaxFunc(nameWrites, func(a, b struct {
				at  HLC
				by  string
				val string
			}) int {
				if a.at != b.at {
					if a.at.Less(b.at) {
						return -1
					}
					return 1
				}
				return cmpString(a.by, b.by)
			})
			if g.Name.v != last.val {
				t.Fatalf("seed %d: name %q, want the last write %q", seed, g.Name.v, last.val)
			}
		}
	}
	// No lost version: each is stored, or the final version includes it.
	stored := map[string]bool{}
	for _, k := range shared.keys(t, "") {
		if _, id, ok := parseVersionKey(k); ok {
			stored[id] = true
		}
	}
	if len(all) > 0 {
		head := devs[0].store.currentLocked("game")
		for _, sv := range all {
			if c, ok := head.hdr.Seen[sv.dev]; !stored[sv.id] && (!ok || c.Less(sv.clock)) {
				t.Fatalf("seed %d: version %s is neither stored nor included in the final version", seed, sv.id)
			}
		}
	}
	for _, d := range devs {
		d.store.Close()
	}
}

// scheduleDir is a fresh directory, in memory (/dev/shm) where there is
// one: the schedules make tens of thousands of small files.
func scheduleDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "skyloop-saves-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, ErrNotFound) }

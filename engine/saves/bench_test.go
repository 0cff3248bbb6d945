package saves_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/saves"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

// Benchmarks of saves as a game sees them (docs/benchmarks.md, "Saves"):
//
//	go test ./engine/saves/ -run '^$' -bench SaveLatency -benchtime 200x -count 3
//	go test ./engine/saves/ -run '^$' -bench Propagation -benchtime 60x -count 3
//	go test ./engine/saves/ -run '^$' -bench Merge -benchtime 10x -count 3
//
// Save latency and propagation run over the real components (a spool
// delivering to the disk plugin, or to the s3 plugin against versitygw);
// the merge runs over an in-memory backend so that only the merge's own
// work is timed.

// percentile of ds (sorted in place), nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	i := int(float64(len(ds))*p+0.999999) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func reportPercentiles(b *testing.B, ds []time.Duration, unit time.Duration, name string) {
	b.ReportMetric(float64(percentile(ds, 0.50))/float64(unit), "p50-"+name)
	b.ReportMetric(float64(percentile(ds, 0.99))/float64(unit), "p99-"+name)
}

// cpuTime is the process's user and system CPU time so far (every
// goroutine, the garbage collector included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// level is one entry of a save with typed fields and plain ones.
type level struct {
	Best  saves.Best
	Plays saves.Counter
	Stars int
	Note  string
}

// bigSave is a game's save of about size bytes of JSON: typed fields at the
// top and in every level, plain values beside them.
type bigSave struct {
	HighScore saves.Best
	Coins     saves.Counter
	Achieved  saves.Unlocks
	Name      saves.Value[string]
	Levels    map[string]*level
}

func newBigSave(size int) *bigSave {
	s := &bigSave{Levels: map[string]*level{}}
	s.Name.Set("player one")
	for i := 0; i < 500; i++ {
		s.Achieved.Unlock(fmt.Sprintf("achievement-%04d", i))
	}
	for i, batch := 0, 16; ; i++ {
		if i%batch == 0 {
			data, _ := json.Marshal(s)
			if len(data) >= size {
				return s
			}
			if i > 0 { // about a tenth of what is missing, per Marshal
				batch = max(16, (size-len(data))/(len(data)/i)/10)
			}
		}
		l := &level{Stars: i % 4, Note: strings.Repeat(fmt.Sprintf("notes on level %d; ", i), 4)}
		l.Best.Offer(int64(i * 7))
		l.Plays.Add(int64(1 + i%9))
		s.Levels[fmt.Sprintf("L%05d", i)] = l
	}
}

// Save latency as the game sees it: Save returns once the version is
// written (not fsynced) in the local directory — on this machine's disk,
// not a tmpfs — and the fsync and the hand-over to the spool (which fsyncs
// again and delivers to the disk plugin) run behind it. "back-to-back"
// saves as fast as it can, so the background work of earlier saves runs
// on the same cores; "one-at-a-time" waits (untimed) for each to be in
// the spool, as a game saving every few seconds does, and also reports
// how long that took (flush-ms); "idle" waits until each is in the sink
// and 50 ms more. "files-only" is the file system work of a Save without
// the store.
func BenchmarkSaveLatency(b *testing.B) {
	const size = 64 << 10
	// The file system work of a Save alone, for comparison: an empty
	// outbox marker created, then the version written to a new temp file
	// and renamed into place (no fsync), in the same kind of directory.
	for _, mode := range []string{"back-to-back", "idle"} {
		b.Run("files-only-64KiB/"+mode, func(b *testing.B) {
			dir := b.TempDir()
			data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%d", i)), nil, 0o644); err != nil {
					b.Fatal(err)
				}
				f, err := os.CreateTemp(dir, "w-*")
				if err != nil {
					b.Fatal(err)
				}
				f.Write(data)
				f.Close()
				if err := os.Rename(f.Name(), filepath.Join(dir, fmt.Sprintf("v%d", i))); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				if mode == "idle" {
					b.StopTimer()
					time.Sleep(50 * time.Millisecond)
					b.StartTimer()
				}
			}
			b.StopTimer()
			reportPercentiles(b, lat, time.Microsecond, "us")
		})
	}
	for _, kind := range []string{"bytes", "json"} {
		for _, mode := range []string{"back-to-back", "one-at-a-time", "idle"} {
			b.Run(kind+"-64KiB/"+mode, func(b *testing.B) {
				be := diskBackend(b)
				d := openDevice(b, "a", []*link{be.newLink(b)}, nil)
				raw := bytes.Repeat([]byte("0123456789abcdef"), size/16)
				big := newBigSave(size)
				save := func(i int) {
					if kind == "bytes" {
						raw[i%size]++
						d.save(b, "slot", raw, saves.Meta{})
						return
					}
					big.Coins.Add(1)
					big.HighScore.Offer(int64(i))
					big.Levels[fmt.Sprintf("L%05d", i%len(big.Levels))].Stars++
					d.save(b, "slot", big, saves.Meta{})
				}
				save(0) // the first version, so every timed save has one to merge onto
				d.flush(b, time.Minute)
				lat := make([]time.Duration, 0, b.N)
				var flushes []time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					save(i)
					lat = append(lat, time.Since(t0))
					switch mode {
					case "one-at-a-time":
						b.StopTimer()
						t1 := time.Now()
						d.flush(b, time.Minute)
						flushes = append(flushes, time.Since(t1))
						b.StartTimer()
					case "idle":
						b.StopTimer()
						d.delivered(b, time.Minute)
						time.Sleep(50 * time.Millisecond)
						b.StartTimer()
					}
				}
				b.StopTimer()
				reportPercentiles(b, lat, time.Microsecond, "us")
				if len(flushes) > 0 {
					b.ReportMetric(float64(percentile(flushes, 0.5))/float64(time.Millisecond), "flush-ms")
				}
				d.delivered(b, 5*time.Minute)
			})
		}
	}
}

// Propagation A→B: from A's Save to B's store reporting the new version
// (B.Changes()), B polling every 100 ms, over the disk plugin and over
// S3 (versitygw on loopback). Each save starts at a random point of B's
// poll cycle.
func BenchmarkPropagation(b *testing.B) {
	const poll = 100 * time.Millisecond
	for _, mk := range []struct {
		name string
		new  func(testing.TB) *backend
	}{{"disk", diskBackend}, {"s3", s3Backend}} {
		b.Run(mk.name, func(b *testing.B) {
			be := mk.new(b)
			a := openDevice(b, "a", []*link{be.newLink(b)}, nil)
			r := openDevice(b, "b", []*link{be.newLink(b)}, func(o *saves.Options) { o.Poll = poll })
			rng := rand.New(rand.NewPCG(1, 2))
			var p gameSave
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				time.Sleep(time.Duration(rng.Int64N(int64(poll))))
				b.StartTimer()
				p.Coins.Add(1)
				p.HighScore.Offer(int64(i))
				t0 := time.Now()
				v := a.save(b, "progress", &p, saves.Meta{})
				waitChange(b, r.store, "progress", v.ID, false, t0.Add(30*time.Second))
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportPercentiles(b, lat, time.Millisecond, "ms")
		})
	}
}

// memSink is an in-memory backend (the sdk's reference one) as a Remote
// and an Upload, so that the merge benchmark times the store alone.
type memSink struct{ sdk.Backend }

func (memSink) Name() string { return "memory" }

func (m memSink) upload(ctx context.Context, key string, data []byte) error {
	_, err := m.Put(ctx, key, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))})
	return err
}

// mergeFixture is two devices sharing an in-memory backend, with a 1 MiB
// JSON save with typed fields (Best, Counter and Unlocks at the top and in
// each of ~5,800 levels, a Value) and plain values.
type mergeFixture struct {
	a, r   *device
	pa, pb *bigSave
	keys   []string
	size   int64
}

func newMergeFixture(b *testing.B) *mergeFixture {
	mem := memSink{synctest.NewMemoryBackend()}
	opts := func(o *saves.Options) {
		o.Remotes, o.Upload, o.History = []saves.Remote{mem}, mem.upload, 4
	}
	f := &mergeFixture{a: openDevice(b, "a", nil, opts), r: openDevice(b, "b", nil, opts), pa: newBigSave(1 << 20), pb: &bigSave{}}
	f.a.save(b, "big", f.pa, saves.Meta{})
	f.a.flush(b, time.Minute)
	f.r.sync(b)
	if _, err := f.r.store.Load("big", f.pb); err != nil {
		b.Fatal(err)
	}
	for k := range f.pa.Levels {
		f.keys = append(f.keys, k)
	}
	slices.Sort(f.keys)
	f.size = f.r.store.History("big")[0].Size
	return f
}

// prepare makes A write a new version (50 levels' typed fields, the
// counter, an unlock, and one plain note); with concurrent B writes too
// without having seen it (other levels, and the same note: a plain
// conflict the policy decides). Both are in the backend after it.
func (f *mergeFixture) prepare(b *testing.B, i int, concurrent bool) {
	edit := func(d *device, p *bigSave, from int, who string) {
		for j := 0; j < 50; j++ {
			l := p.Levels[f.keys[(i*100+from+j)%len(f.keys)]]
			l.Best.Offer(int64(100000 + i))
			l.Plays.Add(1)
		}
		p.Coins.Add(int64(1 + from))
		p.Achieved.Unlock(fmt.Sprintf("%s-%d", who, i))
		p.Levels[f.keys[0]].Note = fmt.Sprintf("%s's note %d", who, i)
		d.save(b, "big", p, saves.Meta{Progress: float64(i)})
		d.flush(b, time.Minute)
	}
	edit(f.a, f.pa, 0, "a")
	if concurrent {
		edit(f.r, f.pb, 50, "b")
	}
}

// check verifies B's Sync left one current version made the expected way,
// and brings A to it.
func (f *mergeFixture) check(b *testing.B, concurrent bool) {
	h := f.r.heads("big")
	want := "save"
	if concurrent {
		want = "policy:most_recent"
	}
	if len(h) != 1 || h[0].Made != want {
		b.Fatalf("after B's Sync: heads %+v, want one %s version", h, want)
	}
	f.r.flush(b, time.Minute)
	f.a.sync(b)
	f.a.flush(b, time.Minute)
	if ha := f.a.heads("big"); len(ha) != 1 || ha[0].ID != h[0].ID {
		b.Fatalf("A did not converge on B's %s: heads %+v", h[0].ID, ha)
	}
}

// Merge cost for a 1 MiB JSON save with typed fields and plain values.
// "two-heads" times B's Sync that fetches A's concurrent version and
// resolves the two heads into a merge version (written locally, uploaded
// in the background); "fast-forward" times the same Sync when A's version
// descends from B's (no merge), so the difference is the merge itself.
func BenchmarkMerge1MiB(b *testing.B) {
	for _, concurrent := range []bool{true, false} {
		name := "fast-forward"
		if concurrent {
			name = "two-heads"
		}
		b.Run(name, func(b *testing.B) {
			f := newMergeFixture(b)
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f.prepare(b, i, concurrent)
				b.StartTimer()
				c0 := cpuTime()
				f.r.sync(b)
				cpu += cpuTime() - c0
				b.StopTimer()
				f.check(b, concurrent)
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(f.size)/(1<<20), "MiB")
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// A Save of a small slot (1 KiB) made by the game while the background
// poll merges the 1 MiB slot: how long the game waits (the store's lock
// is held through the merge).
func BenchmarkSaveDuringMerge1MiB(b *testing.B) {
	f := newMergeFixture(b)
	small := bytes.Repeat([]byte("s"), 1<<10)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f.prepare(b, i, true)
		b.StartTimer()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		done := make(chan error, 1)
		go func() { done <- f.r.store.Sync(ctx) }()
		var err error
	saving:
		for {
			select {
			case err = <-done:
				break saving
			default:
			}
			t0 := time.Now()
			small[i%len(small)]++
			f.r.save(b, "settings", small, saves.Meta{})
			lat = append(lat, time.Since(t0))
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		f.check(b, true)
		b.StartTimer()
	}
	b.StopTimer()
	reportPercentiles(b, lat, time.Millisecond, "save-ms")
	b.ReportMetric(float64(slices.Max(lat))/float64(time.Millisecond), "max-save-ms")
}

package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// TransportResult is one row of `skyloop bench transport`.
type TransportResult struct {
	Plugin     string
	Mode       string // "shm" or "stream"
	Size       int    // bytes per Put
	Puts       int
	Put        Dist    // per Put
	MBps       float64 // payload MB per second
	HostCPUMB  float64 // host CPU milliseconds per MB moved
	PluginCPU  float64 // plugin CPU milliseconds per MB; -1 when unknown
	SharedUsed bool    // the client had a shared-memory region
}

// TransportOptions says which plugin to launch and how long to measure.
type TransportOptions struct {
	Launch   sdk.LaunchOptions // Path, Args, Settings of the plugin; StreamOnly is set per mode
	Name     string            // for the table
	Sizes    []int
	Duration time.Duration // per size and mode
}

// Transport launches the plugin once per mode (shared memory, then the gRPC
// stream only) and Puts objects of each size to one key, back to back, for
// opts.Duration each.
func Transport(ctx context.Context, opts TransportOptions) ([]TransportResult, error) {
	maxSize := 0
	for _, s := range opts.Sizes {
		maxSize = max(maxSize, s)
	}
	payload := make([]byte, maxSize)
	rng := rand.New(rand.NewPCG(1, 2)) // incompressible, the same every run
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	var out []TransportResult
	for _, mode := range []string{"shm", "stream"} {
		lo := opts.Launch
		lo.StreamOnly = mode == "stream"
		c, err := sdk.Launch(ctx, lo)
		if err != nil {
			return out, fmt.Errorf("launch %s: %w", opts.Name, err)
		}
		for _, size := range opts.Sizes {
			r, err := transportRun(ctx, c, payload[:size], opts.Duration)
			if err != nil {
				c.Close()
				return out, fmt.Errorf("%s, %s, %d bytes: %w", opts.Name, mode, size, err)
			}
			r.Plugin, r.Mode, r.Size, r.SharedUsed = opts.Name, mode, size, !lo.StreamOnly
			out = append(out, r)
		}
		c.Close()
	}
	return out, nil
}

var benchKeySeq atomic.Uint64

func transportRun(ctx context.Context, c *sdk.Client, data []byte, d time.Duration) (TransportResult, error) {
	key := fmt.Sprintf("skyloop-bench/transport-%d", benchKeySeq.Add(1))
	put := func() (time.Duration, error) {
		t0 := time.Now()
		_, err := c.Put(ctx, key, bytes.NewReader(data), sdk.PutOptions{Size: int64(len(data))})
		return time.Since(t0), err
	}
	for range 3 { // warm up: connections, buffers, the plugin's first allocation
		if _, err := put(); err != nil {
			return TransportResult{}, err
		}
	}
	var times []time.Duration
	host0 := selfCPU()
	plug0, plugOK := processCPU(c.Pid())
	start := time.Now()
	for time.Since(start) < d || len(times) < 5 {
		t, err := put()
		if err != nil {
			return TransportResult{}, err
		}
		times = append(times, t)
	}
	elapsed := time.Since(start)
	host := selfCPU() - host0
	mb := float64(len(times)*len(data)) / 1e6
	res := TransportResult{Puts: len(times), Put: dist(times), MBps: mb / elapsed.Seconds(), HostCPUMB: MS(host) / mb, PluginCPU: -1}
	if plug1, ok := processCPU(c.Pid()); ok && plugOK {
		res.PluginCPU = MS(plug1-plug0) / mb
	}
	c.Delete(ctx, key)
	return res, nil
}

// DiscardPlugin is the plugin `skyloop bench transport` launches by
// default (the skyloop binary itself, in a hidden mode): it reads every Put
// to the end and keeps nothing, so the numbers are the transport's alone.
func DiscardPlugin() sdk.Plugin {
	return sdk.Plugin{
		Info: sdk.Info{Name: "discard", Version: "1"},
		New: func(ctx context.Context, settings map[string]string) (sdk.Backend, error) {
			return discard{}, nil
		},
	}
}

type discard struct{}

func (discard) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "discard", Version: "1"}, nil
}

func (discard) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	return sdk.ObjectInfo{Key: key, Size: n, ETag: fmt.Sprint(n)}, nil
}

func (discard) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	return sdk.ObjectInfo{}, fmt.Errorf("discard plugin keeps nothing: %w", sdk.ErrNotFound)
}

func (discard) Stat(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	return sdk.ObjectInfo{}, fmt.Errorf("discard plugin keeps nothing: %w", sdk.ErrNotFound)
}

func (discard) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	return nil
}

func (discard) Delete(ctx context.Context, key string) error { return nil }

package sdk

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the user+system CPU time of process pid (Linux /proc).
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTransportPut measures host→plugin throughput into a real
// plugin process, over the gRPC stream (1 MiB chunks; grpc/…) and over the
// shared-memory region (shm/…: Put's default, which still sends payloads
// under shmThreshold over the stream), and the CPU both sides spend per
// MB. The plugin is the in-memory test backend in its benchmark mode
// (ETags without hashing, buffers reused), so the numbers include one copy
// into its map.
func BenchmarkTransportPut(b *testing.B) {
	for _, mode := range []string{"grpc", "shm"} {
		for _, size := range []int{1 << 10, 1 << 20, 8 << 20} {
			benchmarkTransportPut(b, mode, size)
		}
	}
}

func benchmarkTransportPut(b *testing.B, mode string, size int) {
	b.Run(fmt.Sprintf("%s/%dKiB", mode, size>>10), func(b *testing.B) {
		b.Setenv("SKYLOOP_TESTPLUGIN_BENCH", "1")
		c, err := Launch(context.Background(), LaunchOptions{Path: testPlugin, Stderr: os.Stderr, StreamOnly: mode == "grpc"})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		payload := bytes.Repeat([]byte{0xa5}, size)
		ctx := context.Background()
		if _, err := c.Put(ctx, "bench/warm", bytes.NewReader(payload), PutOptions{Size: int64(size)}); err != nil {
			b.Fatal(err)
		}
		if mode == "shm" && size >= shmThreshold && c.sharedPuts.Load() == 0 {
			b.Fatal("the shared region was not used")
		}
		hostStart, pluginStart := selfCPU(), cpuTime(c.Pid())
		b.SetBytes(int64(size))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.Put(ctx, "bench/obj", bytes.NewReader(payload), PutOptions{Size: int64(size)}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		mb := float64(size) * float64(b.N) / 1e6
		b.ReportMetric(float64(selfCPU()-hostStart)/1e6/mb, "host-cpu-ms/MB")
		b.ReportMetric(float64(cpuTime(c.Pid())-pluginStart)/1e6/mb, "plugin-cpu-ms/MB")
	})
}

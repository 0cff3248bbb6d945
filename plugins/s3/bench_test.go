package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// BenchmarkUpload puts segment-sized objects into versitygw on loopback
// (posix backend on the local disk) through the backend in-process: 256 KiB
// (a breakout segment at the defaults is ~40 KB–400 KB), 2 MiB, and 24 MiB
// (multipart at the default 16 MiB part size). It reports MB/s and objects/s.
func BenchmarkUpload(b *testing.B) {
	if skipReason != "" {
		b.Skip(skipReason)
	}
	for _, size := range []int{256 << 10, 2 << 20, 24 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			settings := map[string]string{
				"bucket": testBucket, "endpoint": endpoint, "access_key_id": testAccess, "secret_access_key": testSecret,
				"prefix": "bench-" + randHex() + "/",
			}
			be, err := newBackend(context.Background(), settings)
			if err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, size)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range payload {
				payload[i] = byte(rng.IntN(256)) // segments are compressed: incompressible bytes
			}
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := be.Put(ctx, fmt.Sprintf("s/%08d.seg", i), bytes.NewReader(payload), sdk.PutOptions{Size: int64(size)}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "objects/s")
			b.StopTimer()
			be.List(ctx, "", func(o sdk.ObjectInfo) error { return be.Delete(ctx, o.Key) })
		})
	}
}

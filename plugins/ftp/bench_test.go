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

// BenchmarkUpload puts segment-sized objects into vsftpd on loopback
// through the backend in-process, one Put at a time (each a temp upload,
// a sidecar, the key lock and two renames): 256 KiB (a breakout segment at
// the defaults is ~40 KB–400 KB) and 4 MiB, plain FTP and FTPS (explicit
// TLS on control and data connections, TLS session reuse). It reports
// MB/s and objects/s.
func BenchmarkUpload(b *testing.B) {
	for _, k := range []serverKind{servers[0], servers[1]} {
		for _, size := range []int{256 << 10, 4 << 20} {
			b.Run(fmt.Sprintf("%s/%dKiB", k.name, size>>10), func(b *testing.B) {
				srv := k.start(b, k.opts)
				be, err := newBackend(context.Background(), settingsFor(srv))
				if err != nil {
					b.Fatal(err)
				}
				defer be.(*backend).Close()
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
			})
		}
	}
}

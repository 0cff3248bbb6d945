package sync

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/spool"
)

// Segments keep flowing into the spool while the S3 server (a real
// versitygw, through the real s3 plugin) is killed in the middle of a
// multipart upload and later restarted: every segment ends up in the bucket
// once under its key with exactly the bytes accepted, nothing else is
// there, and no multipart upload is left behind.
func TestSegmentsSurviveS3ServerOutage(t *testing.T) {
	srv := enginetest.StartS3Server(t)
	const prefix = "outage/"
	s, err := Start(context.Background(), SinkConfig{Name: "cloud", Plugin: "s3", Dirs: []string{enginetest.BuildPlugin(t, "s3")}, Settings: map[string]string{
		"bucket":            srv.Bucket,
		"endpoint":          srv.Endpoint,
		"region":            "us-east-1",
		"access_key_id":     srv.Access,
		"secret_access_key": srv.Secret,
		"prefix":            prefix,
		"part_size_mb":      "5",
	}}, Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sp, err := spool.Open(t.TempDir(), []spool.Sink{s}, spool.Options{MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := srv.Client(ctx)
	bucket := aws.String(srv.Bucket)
	uploads := func() int {
		out, err := cl.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket})
		if err != nil {
			t.Fatalf("ListMultipartUploads: %v", err)
		}
		return len(out.Uploads)
	}

	const n, stopAt, restartAt = 30, 10, 20
	want := map[string][]byte{}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("g/p/sessions/s/%08d.seg", i)
		size := 1<<20 + rng.IntN(5<<20) // 1–6 MiB: above 5 MiB goes multipart
		if i == stopAt {
			size = 16 << 20 // four parts: the server dies in the middle
		}
		data := make([]byte, size)
		for j := 0; j < len(data); j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && j+k < len(data); k++ {
				data[j+k] = byte(v >> (8 * k))
			}
		}
		want[key] = data
		if err := sp.Accept(ctx, spool.Item{Key: key, Kind: spool.KindSegment, Data: data}); err != nil {
			t.Fatal(err)
		}
		switch i {
		case stopAt:
			// Kill the server once the big upload is under way.
			deadline := time.Now().Add(5 * time.Second)
			for uploads() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if uploads() == 0 {
				t.Log("no multipart upload seen in flight; stopping the server anyway")
			}
			srv.Stop()
		case restartAt:
			time.Sleep(500 * time.Millisecond) // retries keep failing meanwhile
			if st := sp.Stats().Sinks[0]; st.Retries == 0 || st.Pending == 0 {
				t.Errorf("server down, yet no retries or nothing pending: %+v", st)
			}
			srv.Restart(t)
		}
		time.Sleep(20 * time.Millisecond) // segments arrive over time
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := sp.Stats().Sinks[0]
		if st.Parked != 0 {
			t.Fatalf("items parked (a failure was classified permanent): %+v", sp.Failed())
		}
		if st.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered within 60 s of the restart: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := sp.Stats().Sinks[0]; st.Retries == 0 {
		t.Errorf("no retries recorded across the outage: %+v", st)
	}

	// Read back with a plain S3 client: every key once, exact bytes,
	// nothing else under the prefix (the plugin's probe deletes its object).
	seen := map[string]int{}
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			seen[aws.ToString(o.Key)]++
		}
	}
	for k, c := range seen {
		if _, ok := want[k[len(prefix):]]; !ok {
			t.Errorf("unexpected object %s in the bucket", k)
		} else if c != 1 {
			t.Errorf("%s listed %d times", k, c)
		}
	}
	for k, data := range want {
		if seen[prefix+k] == 0 {
			t.Errorf("%s missing from the bucket", k)
			continue
		}
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(prefix + k)})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes stored differ from the %d accepted", k, len(got), len(data))
		}
	}
	if u := uploads(); u != 0 {
		out, _ := cl.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket})
		for _, up := range out.Uploads {
			t.Logf("orphaned upload: key %s id %s initiated %v", aws.ToString(up.Key), aws.ToString(up.UploadId), aws.ToTime(up.Initiated))
		}
		t.Errorf("%d multipart uploads left behind", u)
	}
}

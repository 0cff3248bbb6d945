package sdk

import (
	"bytes"
	"context"
	"testing"

	"go.uber.org/goleak"
)

// TestNoGoroutineLeft: after Close, nothing the Launch started still runs
// in the host.
func TestNoGoroutineLeft(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := Launch(context.Background(), LaunchOptions{Path: testPlugin})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Put(ctx, "a/b", bytes.NewReader(make([]byte, 2<<20)), PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "a/b", &bytes.Buffer{}, GetOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitGone(t, c.Pid())
}

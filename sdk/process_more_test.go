package sdk

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// dispenseUnconfigured starts the test plugin through go-plugin directly
// and dispenses its Client without Launch's Configure call (and without a
// shared region). The process is killed when the test ends.
func dispenseUnconfigured(t *testing.T) *Client {
	t.Helper()
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(nil),
		Cmd:              exec.Command(testPlugin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Stderr:           os.Stderr,
		Logger:           hclog.NewNullLogger(),
		GRPCDialOptions:  grpcDialOptions(),
	})
	t.Cleanup(pc.Kill)
	rpc, err := pc.Client()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rpc.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*Client)
}

// TestNotConfigured dispenses a client without calling Configure: every
// call fails, saying why.
func TestNotConfigured(t *testing.T) {
	c := dispenseUnconfigured(t)
	ctx := context.Background()
	if _, err := c.Stat(ctx, "a/b"); err == nil || !strings.Contains(err.Error(), "plugin not configured") {
		t.Fatalf("Stat before Configure: %v", err)
	}
	if _, err := c.Put(ctx, "a/b", strings.NewReader("x"), PutOptions{}); err == nil || !strings.Contains(err.Error(), "plugin not configured") {
		t.Fatalf("Put before Configure: %v", err)
	}
	if _, err := c.Info(ctx); err == nil || !strings.Contains(err.Error(), "plugin not configured") {
		t.Fatalf("Info before Configure: %v", err)
	}
}

// slowReader yields a few chunks, then blocks until its context ends.
type slowReader struct {
	ctx  context.Context
	sent int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.sent < 3 {
		r.sent++
		return copy(p, bytes.Repeat([]byte{'x'}, len(p))), nil
	}
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// TestCancelledPut: cancelling a Put mid-stream fails it on both sides and
// leaves no object behind.
func TestCancelledPut(t *testing.T) {
	c, _ := launch(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := c.Put(ctx, "cancel/me", &slowReader{ctx: ctx}, PutOptions{Size: -1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put: %v", err)
	}
	if _, err := c.Stat(context.Background(), "cancel/me"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a cancelled Put left an object: %v", err)
	}
	// A failing writer stops a Get.
	if _, err := c.Put(context.Background(), "big", bytes.NewReader(make([]byte, 3<<20)), PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), "big", failWriter{}, GetOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Get into a failing writer: %v", err)
	}
	c.Close()
	if _, err := c.Stat(context.Background(), "big"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Stat after Close: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	storagev1 "github.com/skyloop-engine/skyloop/sdk/proto/v1"
)

// Client is the host's handle on a storage plugin process: a Backend whose
// calls cross the process boundary over gRPC. Keys are validated before
// they are sent. It is safe for concurrent use. Close stops the plugin
// process.
//
// On Linux, Put payloads travel through a shared-memory region (a memfd
// passed to the plugin as file descriptor 3) with gRPC carrying only their
// offsets (PutShared). Small payloads, payloads that do not fit in the
// region's free space, and plugins without the region use the gRPC stream
// in ChunkSize chunks. Get always uses the stream.
type Client struct {
	rpc  storagev1.StorageClient
	pc   *plugin.Client // nil when not started by Launch
	pid  int
	kill func() // SIGKILLs the plugin's process group (until it is reaped)

	shm        *shmRegion   // nil: stream only
	shmOff     atomic.Bool  // the plugin answered PutShared with Unimplemented
	sharedPuts atomic.Int64 // Puts completed through the region (for tests)

	closeOnce sync.Once
	closed    atomic.Bool
}

// ErrClosed is returned by the calls of a Client after Close.
var ErrClosed = errors.New("plugin client closed")

// check refuses calls after Close and invalid keys, before anything is sent.
func (c *Client) check(op, key string) error {
	if c.closed.Load() {
		return &Error{Op: op, Key: key, Err: ErrClosed}
	}
	if op == "info" || op == "list" {
		return nil
	}
	return ValidateKey(key)
}

var _ Backend = (*Client)(nil)

// Info implements Backend.
func (c *Client) Info(ctx context.Context) (Info, error) {
	if err := c.check("info", ""); err != nil {
		return Info{}, err
	}
	r, err := c.rpc.Info(ctx, &storagev1.InfoRequest{})
	if err != nil {
		return Info{}, fromStatus(ctx, "info", "", err)
	}
	return infoFromWire(r), nil
}

// Put implements Backend: through the shared region when there is one and
// the payload is not known to be small, else over the stream.
func (c *Client) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error) {
	if err := c.check("put", key); err != nil {
		return ObjectInfo{}, err
	}
	counted := &countingReader{r: r}
	var info ObjectInfo
	var err error
	if c.shm != nil && !c.shmOff.Load() && (opts.Size < 0 || opts.Size >= shmThreshold) {
		info, err = c.putShared(ctx, key, counted, opts)
	} else {
		info, err = c.putStream(ctx, key, counted, opts)
	}
	if err == nil && info.Size != counted.n {
		// The plugin stored (or says it stored) something other than what
		// was sent: never count that as delivered. Retryable, since a
		// truncated transfer is the likely cause; the spool keeps the item.
		return ObjectInfo{}, &Error{Op: "put", Key: key, Retryable: true,
			Err: fmt.Errorf("plugin reports %d bytes stored, %d were sent", info.Size, counted.n)}
	}
	return info, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// chunkPool holds ChunkSize buffers for putStream.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, ChunkSize); return &b }}

// putStream sends a header message, then r's bytes in chunks.
func (c *Client) putStream(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Put(ctx)
	if err != nil {
		return ObjectInfo{}, fromStatus(ctx, "put", key, err)
	}
	hdr := &storagev1.PutHeader{Key: key, IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch, Size: opts.Size, Metadata: opts.Metadata}
	sendErr := stream.Send(&storagev1.PutRequest{Msg: &storagev1.PutRequest_Header{Header: hdr}})
	var buf []byte
	if opts.Size >= 0 && opts.Size < ChunkSize {
		// A small payload: one read fills the buffer, the next sees EOF.
		buf = make([]byte, opts.Size+1)
	} else {
		bp := chunkPool.Get().(*[]byte)
		defer chunkPool.Put(bp)
		buf = *bp
	}
	for sendErr == nil {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			// Send serialises the message before returning, so buf is
			// free for the next read.
			sendErr = stream.Send(&storagev1.PutRequest{Msg: &storagev1.PutRequest_Chunk{Chunk: buf[:n]}})
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			// Cancelling the stream makes the plugin's Put fail, so no
			// partial object is left behind.
			cancel()
			return ObjectInfo{}, &Error{Op: "put", Key: key, Err: fmt.Errorf("reading payload: %w", rerr)}
		}
		if len(buf) < ChunkSize {
			// The payload is longer than announced: full-size chunks.
			bp := chunkPool.Get().(*[]byte)
			defer chunkPool.Put(bp)
			buf = *bp
		}
	}
	// io.EOF from Send means the plugin ended the stream early (an error
	// such as a failed precondition); CloseAndRecv returns its status.
	if sendErr != nil && sendErr != io.EOF {
		return ObjectInfo{}, fromStatus(ctx, "put", key, sendErr)
	}
	info, err := stream.CloseAndRecv()
	if err != nil {
		return ObjectInfo{}, fromStatus(ctx, "put", key, err)
	}
	return objectFromWire(info), nil
}

// Get implements Backend, writing the received chunks to w.
func (c *Client) Get(ctx context.Context, key string, w io.Writer, opts GetOptions) (ObjectInfo, error) {
	if err := c.check("get", key); err != nil {
		return ObjectInfo{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Get(ctx, &storagev1.GetRequest{Key: key, Offset: opts.Offset, Length: opts.Length})
	if err != nil {
		return ObjectInfo{}, fromStatus(ctx, "get", key, err)
	}
	var info *storagev1.ObjectInfo
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ObjectInfo{}, fromStatus(ctx, "get", key, err)
		}
		switch msg := m.Msg.(type) {
		case *storagev1.GetResponse_Info:
			info = msg.Info
		case *storagev1.GetResponse_Chunk:
			if _, err := w.Write(msg.Chunk); err != nil {
				return ObjectInfo{}, &Error{Op: "get", Key: key, Err: fmt.Errorf("writing payload: %w", err)}
			}
		}
	}
	if info == nil {
		return ObjectInfo{}, &Error{Op: "get", Key: key, Err: errors.New("protocol error: the plugin sent no object info")}
	}
	return objectFromWire(info), nil
}

// Stat implements Backend.
func (c *Client) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := c.check("stat", key); err != nil {
		return ObjectInfo{}, err
	}
	r, err := c.rpc.Stat(ctx, &storagev1.StatRequest{Key: key})
	if err != nil {
		return ObjectInfo{}, fromStatus(ctx, "stat", key, err)
	}
	return objectFromWire(r), nil
}

// List implements Backend. An error from fn cancels the stream and is
// returned as is.
func (c *Client) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := c.check("list", prefix); err != nil {
		return err
	}
	if err := ValidatePrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.List(ctx, &storagev1.ListRequest{Prefix: prefix})
	if err != nil {
		return fromStatus(ctx, "list", prefix, err)
	}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fromStatus(ctx, "list", prefix, err)
		}
		if err := fn(objectFromWire(m)); err != nil {
			return err
		}
	}
}

// Delete implements Backend.
func (c *Client) Delete(ctx context.Context, key string) error {
	if err := c.check("delete", key); err != nil {
		return err
	}
	_, err := c.rpc.Delete(ctx, &storagev1.DeleteRequest{Key: key})
	return fromStatus(ctx, "delete", key, err)
}

// Pid is the plugin process's id, or 0.
func (c *Client) Pid() int { return c.pid }

// Exited reports whether the plugin process has ended (crashed, killed or
// closed). The engine's sync host relaunches a plugin that exited.
func (c *Client) Exited() bool {
	if c.closed.Load() {
		return true
	}
	return c.pc != nil && c.pc.Exited()
}

// Shutdown bounds: Close gives a plugin closeGrace to shut down by itself
// (go-plugin's graceful shutdown), then SIGKILLs its process group and
// waits at most reapWait more for the process to be reaped. Whatever the
// plugin does (stopped, deadlocked, stuck in a call), Close returns within
// CloseTimeout.
const (
	closeGrace = 2 * time.Second
	reapWait   = 500 * time.Millisecond
	// CloseTimeout is the most Close (or Kill) of a Client can take.
	CloseTimeout = closeGrace + reapWait
)

// Close stops the plugin process — gracefully, then killed with its
// process group after two seconds — and waits for it to be reaped. It
// never takes longer than CloseTimeout, whatever the plugin does. Calls in
// flight fail; calls after it return ErrClosed. It is idempotent and
// always returns nil.
func (c *Client) Close() error {
	c.stop(closeGrace)
	return nil
}

// Kill is Close without the graceful part: the plugin's process group is
// SIGKILLed at once (for a plugin known to be hung). It is idempotent, may
// follow or precede Close (the first one decides), and returns nil.
func (c *Client) Kill() error {
	c.stop(0)
	return nil
}

func (c *Client) stop(grace time.Duration) {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.pc != nil {
			stopPlugin(c.pc, c.kill, grace)
		}
		if c.shm != nil {
			c.shm.close()
		}
	})
}

// stopPlugin ends a plugin process started by Launch: go-plugin's
// shutdown (which has no deadline of its own: a stopped plugin never
// answers it) given grace, then kill, then at most reapWait for
// go-plugin to see the process gone. It reports whether the process was
// seen reaped; when not, go-plugin's own goroutines finish later.
func stopPlugin(pc *plugin.Client, kill func(), grace time.Duration) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		pc.Kill()
	}()
	if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-done:
			t.Stop()
			kill() // a no-op once reaped; releases the kill switch
			return true
		case <-t.C:
		}
	}
	kill()
	t := time.NewTimer(reapWait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// LaunchOptions say which plugin binary to start and how.
type LaunchOptions struct {
	// Path of the plugin executable (e.g. skyloop-plugin-disk).
	Path string
	// SHA256, when set, pins the binary: hex digest of the file; Launch
	// refuses to start a binary with another digest.
	SHA256 string
	// Settings are sent with Configure; unknown or missing keys are refused.
	Settings map[string]string
	// Logger receives go-plugin's and the plugin's log lines; nil drops them.
	Logger hclog.Logger
	// Stderr receives the plugin's raw stderr, and whatever it prints to
	// stdout after Serve started; nil drops them.
	Stderr io.Writer
	// Args are extra command-line arguments for the plugin.
	Args []string
	// Env holds extra environment variables ("NAME=value") for the plugin,
	// after the host's own.
	Env []string
	// StartTimeout bounds the handshake; 0 means 30 seconds.
	StartTimeout time.Duration

	// StreamOnly makes Puts use the gRPC stream only, never the shared
	// memory region (benchmarks comparing the two, debugging).
	StreamOnly bool

	// shmSize is the shared region's size; 0 means shmDefaultSize.
	shmSize int
}

// Launch starts the plugin at opts.Path, checks its SHA-256 pin, performs
// the go-plugin handshake (gRPC, AutoMTLS, protocol v1), sends the settings
// and returns the configured Client. On any failure the process is
// stopped and the error says what to fix.
func Launch(ctx context.Context, opts LaunchOptions) (*Client, error) {
	path := opts.Path
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("plugin binary %s not found: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("plugin binary %s: %w", path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("plugin binary %s is a directory, not an executable", path)
	case fi.Mode().Perm()&0o111 == 0:
		return nil, fmt.Errorf("plugin binary %s is not executable (mode %v): chmod +x it", path, fi.Mode().Perm())
	}
	var secure *plugin.SecureConfig
	if opts.SHA256 != "" {
		want, err := hex.DecodeString(strings.TrimSpace(opts.SHA256))
		if err != nil || len(want) != sha256.Size {
			return nil, fmt.Errorf("plugin %s: sha256 pin %q is not a 64-digit hex SHA-256 digest", path, opts.SHA256)
		}
		got, err := fileSHA256(path)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: hashing: %w", path, err)
		}
		if !bytes.Equal(got, want) {
			return nil, fmt.Errorf("plugin %s refused: its SHA-256 is %x but the config pins %x; "+
				"if you rebuilt or upgraded the plugin on purpose, set sha256 = %q in the sink's config (or clear it)",
				path, got, want, hex.EncodeToString(got))
		}
		secure = &plugin.SecureConfig{Checksum: want, Hash: sha256.New()}
	}

	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	tail := &tailBuffer{max: 4096}
	stderr := io.Writer(tail)
	if opts.Stderr != nil {
		stderr = io.MultiWriter(tail, opts.Stderr)
	}
	syncOut := io.Discard
	if opts.Stderr != nil {
		syncOut = opts.Stderr
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	// The process runs in a group of its own; kill (cancelling the
	// command's context) SIGKILLs that group, race-free: exec calls
	// Cancel only while the process is not reaped. go-plugin uses cmd
	// as it is (its SysProcAttr included).
	procCtx, kill := context.WithCancel(context.Background())
	cmd := exec.CommandContext(procCtx, path, opts.Args...)
	cmd.Cancel = func() error { return killProcessGroup(cmd.Process) }
	setProcessGroup(cmd)
	cmd.Env = append(withoutEnv(os.Environ(), envShmSize), opts.Env...)
	launched := false
	defer func() {
		if !launched {
			kill()
		}
	}()
	var shm *shmRegion
	if !opts.StreamOnly {
		size := opts.shmSize
		if size <= 0 {
			size = shmDefaultSize
		}
		size = min(size/shmSlotSize, 64) * shmSlotSize
		if size > 0 {
			// Without the region (not Linux, no memfd) Puts use the stream.
			if f, region, err := createShm(size); err == nil {
				defer f.Close() // the plugin has its own copy once started
				cmd.ExtraFiles = []*os.File{f}
				cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", envShmSize, size))
				shm = region
			} else {
				logger.Debug("no shared-memory region; payloads use the gRPC stream", "error", err)
			}
		}
	}
	defer func() {
		if shm != nil {
			shm.close() // unless the Client took it
		}
	}()
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(nil),
		Cmd:              cmd,
		SkipHostEnv:      true, // cmd.Env already holds it
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          false,
		StartTimeout:     timeout,
		Stderr:           stderr,
		SyncStdout:       syncOut,
		SyncStderr:       syncOut,
		Logger:           logger,
		GRPCDialOptions:  grpcDialOptions(),
	})

	// go-plugin's start is not context-aware: kill the process if ctx ends
	// first. (Not pc.Kill: it waits for the lock pc.Client holds, and a
	// plugin stopped after its handshake line would keep both waiting.)
	stop := context.AfterFunc(ctx, kill)
	rpcClient, err := pc.Client()
	stop()
	if ctx.Err() != nil {
		// The process was killed for it: whatever go-plugin saw follows.
		err = ctx.Err()
	}
	if err != nil {
		// Nothing was stored through this plugin: no graceful shutdown.
		stopPlugin(pc, kill, 0)
		return nil, handshakeError(path, err, tail.String())
	}
	raw, err := rpcClient.Dispense(pluginName)
	if err != nil {
		stopPlugin(pc, kill, 0)
		return nil, fmt.Errorf("plugin %s: dispense %q: %w", path, pluginName, err)
	}
	launched = true
	c := raw.(*Client)
	c.pc, c.kill = pc, kill
	c.shm, shm = shm, nil
	if cmd.Process != nil {
		c.pid = cmd.Process.Pid
	}
	settings := opts.Settings
	if settings == nil {
		settings = map[string]string{}
	}
	if _, err := c.rpc.Configure(ctx, &storagev1.ConfigureRequest{Settings: settings}); err != nil {
		c.Kill()
		return nil, fmt.Errorf("plugin %s: configure: %w", path, fromStatus(ctx, "configure", "", err))
	}
	return c, nil
}

// withoutEnv drops the variable name from env.
func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func handshakeError(path string, err error, stderrTail string) error {
	msg := err.Error()
	hint := ""
	if line, ok := strings.CutPrefix(msg, "Unrecognized remote plugin message: "); ok {
		line, _, _ = strings.Cut(line, "\n")
		if line == "" {
			hint = ": it wrote no handshake to stdout (is it a skyloop plugin whose main calls sdk.Serve? see its stderr below)"
		} else {
			hint = fmt.Sprintf(": it printed %q to stdout before its handshake; a plugin must not write to stdout before sdk.Serve (log to stderr instead)", line)
		}
	}
	out := fmt.Errorf("plugin %s: handshake failed%s: %w", path, hint, err)
	if s := strings.TrimSpace(stderrTail); s != "" {
		out = fmt.Errorf("%w\nplugin stderr (last lines):\n%s", out, s)
	}
	return out
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// describeJSON is what `PLUGIN -describe` prints.
type describeJSON struct {
	Info
	Settings []settingJSON `json:"settings"`
}

type settingJSON struct {
	Name     string `json:"name"`
	Required bool   `json:"required,omitempty"`
	Secret   bool   `json:"secret,omitempty"`
	Help     string `json:"help,omitempty"`
}

// Describe runs `path -describe` and returns the plugin's Info and declared
// settings, without starting a plugin server.
func Describe(ctx context.Context, path string) (Info, []Setting, error) {
	if _, err := os.Stat(path); err != nil {
		return Info{}, nil, fmt.Errorf("plugin binary %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-describe")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Info{}, nil, fmt.Errorf("plugin %s -describe: %w\nstderr: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	var d describeJSON
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&d); err != nil {
		return Info{}, nil, fmt.Errorf("plugin %s -describe: output is not a skyloop plugin description: %w", path, err)
	}
	settings := make([]Setting, 0, len(d.Settings))
	for _, s := range d.Settings {
		settings = append(settings, Setting(s))
	}
	return d.Info, settings, nil
}

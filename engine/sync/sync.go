package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// BinaryPrefix is the file-name prefix of plugin binaries.
const BinaryPrefix = "skyloop-plugin-"

// ErrPluginNotFound means no skyloop-plugin-NAME binary was found.
var ErrPluginNotFound = errors.New("plugin binary not found")

// FindPlugin returns the path of skyloop-plugin-NAME: beside the running
// executable first, then in each of dirs, then on PATH.
func FindPlugin(name string, dirs ...string) (string, error) {
	bin := BinaryPrefix + name
	var tried []string
	if exe, err := os.Executable(); err == nil {
		dirs = append([]string{filepath.Dir(exe)}, dirs...)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, bin)
		tried = append(tried, p)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("sync: plugin %q: %w: looked for %s in %v and on PATH; build it (make build puts plugins in bin/) or set plugin_dir in the config", name, ErrPluginNotFound, bin, tried)
}

// SinkConfig is one [[sink]] of the config.
type SinkConfig struct {
	Name     string
	Plugin   string // NAME of skyloop-plugin-NAME
	Path     string // explicit binary path; "" to search
	SHA256   string
	Settings map[string]string
	Dirs     []string // extra directories to search
}

// Options tune restarts.
type Options struct {
	MinBackoff, MaxBackoff time.Duration // defaults 100 ms, 10 s
	// HealthInterval is how often an idle plugin is checked (an Info call)
	// and relaunched if it died, so it is back before the next segment;
	// default 5 s.
	HealthInterval time.Duration
	Logger         *slog.Logger
	Stderr         io.Writer // plugin stderr; default os.Stderr
}

// Sink is a running plugin seen as a spool sink.
type Sink struct {
	cfg  SinkConfig
	opts Options
	path string

	mu       gosync.Mutex
	client   *sdk.Client
	info     sdk.Info
	restarts int
	failures int       // consecutive failed launches
	nextTry  time.Time // no relaunch before this
	closed   bool

	stopHealth chan struct{}
	healthDone chan struct{}
}

// Start finds and launches the plugin and checks its settings. Errors here
// are configuration errors (missing binary, checksum mismatch, rejected
// settings) and are returned as they are, naming the sink.
func Start(ctx context.Context, cfg SinkConfig, opts Options) (*Sink, error) {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 5 * time.Second
	}
	path := cfg.Path
	if path == "" {
		var err error
		if path, err = FindPlugin(cfg.Plugin, cfg.Dirs...); err != nil {
			return nil, fmt.Errorf("sink %q: %w", cfg.Name, err)
		}
	}
	s := &Sink{cfg: cfg, opts: opts, path: path, stopHealth: make(chan struct{}), healthDone: make(chan struct{})}
	if err := s.launch(ctx); err != nil {
		return nil, fmt.Errorf("sink %q: %w", cfg.Name, err)
	}
	go s.watch()
	return s, nil
}

// watch health-checks the plugin until Close.
func (s *Sink) watch() {
	defer close(s.healthDone)
	t := time.NewTicker(s.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopHealth:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// call relaunches a dead plugin (within its backoff).
		err := s.call(ctx, "health", func(c *sdk.Client) error { _, err := c.Info(ctx); return err })
		cancel()
		if err != nil {
			s.opts.Logger.Warn("plugin health check failed", "sink", s.cfg.Name, "err", err)
		}
	}
}

func (s *Sink) launch(ctx context.Context) error {
	c, err := sdk.Launch(ctx, sdk.LaunchOptions{Path: s.path, SHA256: s.cfg.SHA256, Settings: s.cfg.Settings, Stderr: s.opts.Stderr})
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		c.Close()
		return err
	}
	s.client, s.info = c, info
	return nil
}

// Name is the sink's name from the config.
func (s *Sink) Name() string { return s.cfg.Name }

// Info is what the plugin said about itself at its last launch.
func (s *Sink) Info() sdk.Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Restarts counts relaunches after crashes.
func (s *Sink) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Pid is the plugin process id, 0 when none runs.
func (s *Sink) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return 0
	}
	return s.client.Pid()
}

// errPluginDown is returned while a crashed plugin waits for its backoff.
var errPluginDown = errors.New("plugin process is not running")

// backend returns a live client, relaunching a crashed plugin when its
// backoff allows.
func (s *Sink) backend(ctx context.Context) (*sdk.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, sdk.PermanentError("sink", s.cfg.Name, sdk.ErrClosed)
	}
	if s.client != nil && !s.client.Exited() {
		return s.client, nil
	}
	if s.client != nil {
		s.client.Close()
		s.client = nil
		s.opts.Logger.Warn("plugin exited; relaunching", "sink", s.cfg.Name, "plugin", s.cfg.Plugin)
	}
	if now := time.Now(); now.Before(s.nextTry) {
		return nil, sdk.RetryableError("launch", s.cfg.Name, fmt.Errorf("%w; next try in %v", errPluginDown, s.nextTry.Sub(now).Round(time.Millisecond)))
	}
	if err := s.launch(ctx); err != nil {
		s.failures++
		d := min(s.opts.MaxBackoff, s.opts.MinBackoff<<min(s.failures, 20))
		d = d/2 + rand.N(d/2+1) // jitter
		s.nextTry = time.Now().Add(d)
		s.opts.Logger.Error("plugin relaunch failed", "sink", s.cfg.Name, "err", err, "retry_in", d)
		return nil, sdk.RetryableError("launch", s.cfg.Name, err)
	}
	s.failures = 0
	s.restarts++
	return s.client, nil
}

// call runs op on a live client. A failure that coincides with the plugin
// process ending is reported as retryable: the spool will try again on the
// relaunched plugin.
func (s *Sink) call(ctx context.Context, op string, fn func(*sdk.Client) error) error {
	c, err := s.backend(ctx)
	if err != nil {
		return err
	}
	err = fn(c)
	if err != nil && !sdk.IsRetryable(err) && c.Exited() {
		return sdk.RetryableError(op, s.cfg.Name, fmt.Errorf("plugin exited during the call: %w", err))
	}
	return err
}

// Put implements spool.Sink. The reader may be read again on a retry, so
// the spool hands a fresh one each time.
func (s *Sink) Put(ctx context.Context, key string, r io.Reader, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	var info sdk.ObjectInfo
	err := s.call(ctx, "put", func(c *sdk.Client) error {
		var err error
		info, err = c.Put(ctx, key, r, opts)
		return err
	})
	return info, err
}

// Get reads an object through the plugin.
func (s *Sink) Get(ctx context.Context, key string, w io.Writer, opts sdk.GetOptions) (sdk.ObjectInfo, error) {
	var info sdk.ObjectInfo
	err := s.call(ctx, "get", func(c *sdk.Client) error {
		var err error
		info, err = c.Get(ctx, key, w, opts)
		return err
	})
	return info, err
}

// List lists objects through the plugin.
func (s *Sink) List(ctx context.Context, prefix string, fn func(sdk.ObjectInfo) error) error {
	return s.call(ctx, "list", func(c *sdk.Client) error { return c.List(ctx, prefix, fn) })
}

// Close stops the health check and the plugin process. It is idempotent.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stopHealth)
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
	s.mu.Unlock()
	<-s.healthDone
	return nil
}

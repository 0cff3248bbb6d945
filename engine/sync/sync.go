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
	"strings"
	gosync "sync"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

// BinaryPrefix is the file-name prefix of plugin binaries.
const BinaryPrefix = "skyloop-plugin-"

// ErrPluginNotFound means no skyloop-plugin-NAME binary was found.
var ErrPluginNotFound = errors.New("plugin binary not found")

// FindPlugin returns the path of skyloop-plugin-NAME: beside the running
// executable first, then in each of dirs, then on PATH, then in Go's bin
// directory ($GOBIN, else $GOPATH/bin, else ~/go/bin) under either
// skyloop-plugin-NAME or NAME, the name `go install …/plugins/NAME` gives
// it.
func FindPlugin(name string, dirs ...string) (string, error) {
	bin := BinaryPrefix + name
	var tried []string
	if exe, err := os.Executable(); err == nil {
		dirs = append([]string{filepath.Dir(exe)}, dirs...)
	}
	isFile := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, bin)
		tried = append(tried, p)
		if isFile(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	tried = append(tried, "PATH")
	if gobin := goBinDir(); gobin != "" {
		for _, n := range []string{bin, name} {
			p := filepath.Join(gobin, n)
			tried = append(tried, p)
			if isFile(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("sync: plugin %q: %w: looked for %s in %s; build it (make build puts plugins in bin/; go install github.com/skyloop-engine/skyloop/plugins/%s@latest) or set plugin_dir in the config",
		name, ErrPluginNotFound, bin, strings.Join(tried, ", "), name)
}

// goBinDir is where go install puts binaries.
func goBinDir() string {
	if d := os.Getenv("GOBIN"); d != "" {
		return d
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		return filepath.Join(filepath.SplitList(gp)[0], "bin")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "bin")
	}
	return ""
}

// locate finds the binary serving cfg's plugin: cfg.Path, a binary found
// by FindPlugin, or — for a built-in plugin (disk) with no binary anywhere
// — the running executable itself in that plugin's mode. env is what the
// launch adds to the environment. builtin reports the last case.
func locate(cfg SinkConfig) (path string, env []string, builtin bool, err error) {
	if cfg.Path != "" {
		return cfg.Path, nil, false, nil
	}
	path, err = FindPlugin(cfg.Plugin, cfg.Dirs...)
	if err == nil || !errors.Is(err, ErrPluginNotFound) || !HasBuiltin(cfg.Plugin) {
		return path, nil, false, err
	}
	exe, exeErr := os.Executable()
	if exeErr != nil {
		return "", nil, false, fmt.Errorf("%w (and the built-in %s plugin needs this program's own path: %v)", err, cfg.Plugin, exeErr)
	}
	return exe, []string{envBuiltin + "=" + cfg.Plugin}, true, nil
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
	// HealthTimeout bounds the health check's Info call. A plugin that
	// does not answer within it is hung (stopped, deadlocked): it is
	// killed and relaunched, and the calls it held fail as retryable;
	// default 5 s.
	HealthTimeout time.Duration
	// LaunchTimeout bounds one launch: the handshake and Configure, which
	// is where a plugin checks that its store is reachable; default 30 s.
	LaunchTimeout time.Duration
	Logger        *slog.Logger
	Stderr        io.Writer // plugin stderr; default os.Stderr
}

func (o *Options) withDefaults() {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 5 * time.Second
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 5 * time.Second
	}
	if o.LaunchTimeout <= 0 {
		o.LaunchTimeout = 30 * time.Second
	}
}

// Sink is a running plugin seen as a spool sink.
type Sink struct {
	cfg     SinkConfig
	opts    Options
	path    string
	env     []string
	builtin bool

	mu          gosync.Mutex
	client      *sdk.Client
	info        sdk.Info
	restarts    int
	hangs       int       // plugins killed for not answering a health check
	failures    int       // consecutive failed launches
	nextTry     time.Time // no relaunch before this
	connecting  bool      // a background launch is in progress
	relaunching bool      // backend is relaunching the plugin
	launches    gosync.WaitGroup
	startErr    error // why the last launch failed; nil once up
	closed      bool

	ctx        context.Context // ends at Close, cancelling a launch in progress
	cancel     context.CancelFunc
	verdict    chan struct{} // closed when the first launch has succeeded or failed
	stopHealth chan struct{}
	healthDone chan struct{}
}

// Start finds and launches the plugin and checks its settings, waiting for
// both. Errors here are returned as they are, naming the sink: a missing
// binary, a checksum mismatch, rejected settings, or an unreachable store
// (tools use Start; a game uses StartBackground, which never waits on the
// store).
func Start(ctx context.Context, cfg SinkConfig, opts Options) (*Sink, error) {
	s, err := newSink(cfg, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.LaunchTimeout)
	defer cancel()
	if err := s.launch(ctx); err != nil {
		s.cancel()
		return nil, fmt.Errorf("sink %q: %w", cfg.Name, err)
	}
	close(s.verdict)
	go s.watch()
	return s, nil
}

// StartBackground finds the plugin and returns at once; the launch and the
// plugin's settings check (which may need the network) run in the
// background, retried with backoff while they fail for a reason that may
// pass (unreachable store, slow plugin). Meanwhile the Sink's calls fail as
// retryable, so the spool keeps what it is given. Only a missing plugin
// binary is an error here; Wait tells how the first launch went.
func StartBackground(cfg SinkConfig, opts Options) (*Sink, error) {
	s, err := newSink(cfg, opts)
	if err != nil {
		return nil, err
	}
	s.connecting = true
	go s.connect()
	return s, nil
}

func newSink(cfg SinkConfig, opts Options) (*Sink, error) {
	opts.withDefaults()
	path, env, builtin, err := locate(cfg)
	if err != nil {
		return nil, fmt.Errorf("sink %q: %w", cfg.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Sink{cfg: cfg, opts: opts, path: path, env: env, builtin: builtin, ctx: ctx, cancel: cancel,
		verdict: make(chan struct{}), stopHealth: make(chan struct{}), healthDone: make(chan struct{})}, nil
}

// Permanent reports whether a launch error will recur on every try until
// the config or the installation changes (rejected settings, a checksum
// mismatch, a binary that is not a plugin), as opposed to a store that is
// unreachable or a plugin slow to answer.
func Permanent(err error) bool {
	if err == nil || sdk.IsRetryable(err) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return true
}

// connect launches the plugin in the background until it is up, the
// sink is closed, or forever with backoff; once up it health-checks.
func (s *Sink) connect() {
	defer close(s.healthDone)
	first := true
	lastLogged := ""
	verdict := func() {
		if first {
			close(s.verdict)
			first = false
		}
	}
	for {
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.LaunchTimeout)
		c, info, err := s.start(ctx)
		cancel()
		s.mu.Lock()
		if s.closed {
			s.connecting = false
			s.mu.Unlock()
			if c != nil {
				c.Close()
			}
			verdict()
			return
		}
		s.startErr = err
		if err == nil {
			if !first {
				// Said before the sink is seen up, so a watcher of Up
				// finds the line written.
				s.opts.Logger.Info("sink is up: delivering what waited in the spool", "sink", s.cfg.Name)
			}
			s.client, s.info, s.connecting, s.failures = c, info, false, 0
			s.mu.Unlock()
			verdict()
			s.watchLoop()
			return
		}
		s.failures++
		d := s.backoff()
		if Permanent(err) {
			d = max(d, time.Minute) // it fails the same way until the config changes
		}
		s.mu.Unlock()
		switch {
		case first: // the engine reports the first failure
		case Permanent(err) && err.Error() != lastLogged:
			// Found after the game started (its first launch was slow):
			// said once, loudly; the spool keeps what the sink would get.
			lastLogged = err.Error()
			s.opts.Logger.Error("sink refused its settings; nothing reaches it until the config is fixed (items wait in the spool)",
				"sink", s.cfg.Name, "err", err)
		default:
			s.opts.Logger.Debug("sink still unavailable", "sink", s.cfg.Name, "err", err, "retry_in", d)
		}
		verdict()
		t := time.NewTimer(d)
		select {
		case <-s.ctx.Done():
			t.Stop()
			s.mu.Lock()
			s.connecting = false
			s.mu.Unlock()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait before the next launch after s.failures failures.
func (s *Sink) backoff() time.Duration {
	d := min(s.opts.MaxBackoff, s.opts.MinBackoff<<min(s.failures, 20))
	return d/2 + rand.N(d/2+1) // jitter
}

// Wait blocks until the first launch has succeeded or failed, or ctx
// ends; it returns that launch's error (nil: the plugin is up), or ctx's.
func (s *Sink) Wait(ctx context.Context) error {
	select {
	case <-s.verdict:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startErr
}

// Up reports whether the plugin is running and configured now.
func (s *Sink) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client != nil && !s.connecting && !s.client.Exited()
}

// Down reports whether the sink never came up in this run: its launch
// failed (an unreachable store, refused settings) and it has not been up
// since. A sink still in its first launch is not down.
func (s *Sink) Down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connecting && s.startErr != nil
}

// Where describes where the sink's plugin runs from, for messages.
func (s *Sink) Where() string {
	if s.builtin {
		return "built-in " + s.cfg.Plugin + " plugin (" + s.path + ")"
	}
	return s.path
}

// watch health-checks the plugin until Close.
func (s *Sink) watch() {
	defer close(s.healthDone)
	s.watchLoop()
}

func (s *Sink) watchLoop() {
	t := time.NewTicker(s.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopHealth:
			return
		case <-t.C:
		}
		s.checkHealth()
	}
}

// checkHealth asks the plugin for its Info within HealthTimeout,
// relaunching a dead plugin first (within its backoff). A plugin that
// does not answer in time is killed (replaceHung).
func (s *Sink) checkHealth() {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.HealthTimeout)
	defer cancel()
	c, err := s.backend(ctx)
	if err != nil {
		// Waiting for its backoff, or a relaunch failed (backend said so).
		s.opts.Logger.Debug("plugin not running", "sink", s.cfg.Name, "err", err)
		return
	}
	_, err = c.Info(ctx)
	switch {
	case err == nil, s.ctx.Err() != nil:
	case ctx.Err() != nil:
		s.replaceHung(c)
	default:
		s.opts.Logger.Warn("plugin health check failed", "sink", s.cfg.Name, "err", err)
	}
}

// replaceHung kills a plugin that did not answer its health check: the
// calls it holds fail (retryable, see call) and the next call or health
// check relaunches it once the backoff allows. Said once per hung process.
func (s *Sink) replaceHung(c *sdk.Client) {
	s.mu.Lock()
	if s.client != c || s.closed {
		s.mu.Unlock()
		return // replaced or closed meanwhile
	}
	s.client = nil
	s.hangs++
	s.failures++
	d := s.backoff()
	s.nextTry = time.Now().Add(d)
	s.mu.Unlock()
	s.opts.Logger.Warn("plugin did not answer its health check: killed, relaunching; calls in flight are retried",
		"sink", s.cfg.Name, "plugin", s.cfg.Plugin, "pid", c.Pid(), "timeout", s.opts.HealthTimeout, "retry_in", d.Round(time.Millisecond))
	c.Kill()
}

// start launches a plugin process and asks for its Info.
func (s *Sink) start(ctx context.Context) (*sdk.Client, sdk.Info, error) {
	c, err := sdk.Launch(ctx, sdk.LaunchOptions{Path: s.path, Env: s.env, SHA256: s.cfg.SHA256, Settings: s.cfg.Settings, Stderr: s.opts.Stderr})
	if err != nil {
		return nil, sdk.Info{}, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		c.Close()
		return nil, sdk.Info{}, err
	}
	return c, info, nil
}

func (s *Sink) launch(ctx context.Context) error {
	c, info, err := s.start(ctx)
	if err != nil {
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

// Restarts counts relaunches after crashes and hangs.
func (s *Sink) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Hangs counts plugin processes killed for not answering a health check.
func (s *Sink) Hangs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hangs
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

// errSinkStarting and errSinkDown are returned while a sink started in the
// background is not up yet: its first launch is running, or failed and is
// retried with backoff.
var (
	errSinkStarting = errors.New("sink is starting")
	errSinkDown     = errors.New("sink is not available yet")
)

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
	if s.connecting {
		why := errSinkStarting
		if s.startErr != nil {
			why = fmt.Errorf("%w: %w", errSinkDown, s.startErr)
		}
		return nil, sdk.RetryableError("launch", s.cfg.Name, why)
	}
	if s.client != nil {
		s.client.Close()
		s.client = nil
		s.opts.Logger.Warn("plugin exited; relaunching", "sink", s.cfg.Name, "plugin", s.cfg.Plugin)
	}
	if now := time.Now(); now.Before(s.nextTry) {
		return nil, sdk.RetryableError("launch", s.cfg.Name, fmt.Errorf("%w; next try in %v", errPluginDown, s.nextTry.Sub(now).Round(time.Millisecond)))
	}
	if s.relaunching {
		return nil, sdk.RetryableError("launch", s.cfg.Name, errSinkStarting)
	}
	// The launch runs without s.mu (Up, Pid and Close do not wait for
	// it), bounded by LaunchTimeout and ended by Close (s.ctx) as well as
	// by the caller; meanwhile other calls fail as retryable.
	s.relaunching = true
	s.launches.Add(1)
	defer s.launches.Done()
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.opts.LaunchTimeout)
	stop := context.AfterFunc(s.ctx, cancel)
	c, info, err := s.start(ctx)
	stop()
	cancel()
	s.mu.Lock()
	s.relaunching = false
	if s.closed {
		if c != nil {
			c.Kill() // never used
		}
		return nil, sdk.PermanentError("sink", s.cfg.Name, sdk.ErrClosed)
	}
	if err != nil {
		s.failures++
		d := s.backoff()
		s.nextTry = time.Now().Add(d)
		s.opts.Logger.Error("plugin relaunch failed", "sink", s.cfg.Name, "err", err, "retry_in", d)
		return nil, sdk.RetryableError("launch", s.cfg.Name, err)
	}
	s.client, s.info = c, info
	s.failures = 0
	s.restarts++
	return c, nil
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

// Delete deletes an object through the plugin.
func (s *Sink) Delete(ctx context.Context, key string) error {
	return s.call(ctx, "delete", func(c *sdk.Client) error { return c.Delete(ctx, key) })
}

// Close stops the health check and the plugin process. It is idempotent
// and bounded whatever the plugin does: a launch or health check in
// progress is cancelled, and the plugin is stopped by sdk's Client.Close
// (killed after its graceful deadline), so Close returns within about
// sdk.CloseTimeout. Calls in flight fail.
func (s *Sink) Close() error {
	s.cancel() // ends a launch or health check in progress
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stopHealth)
	c := s.client
	s.client = nil
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
	<-s.healthDone
	s.launches.Wait() // a relaunch from a call, cancelled above
	return nil
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/skyloop-engine/skyloop/sdk"
)

// session is one logged-in control connection with the data connections
// it opens. It is used by one operation at a time (the pool hands it out).
type session struct {
	sc     *ftp.ServerConn
	killed atomic.Bool // cancelled or broken: every read and write fails
	ctrl   *ioConn     // the control connection

	mu    sync.Mutex
	conns []*ioConn // control and open data connections, for kill
}

// ioConn bounds every read and write by the timeout and fails them once its
// session is killed.
type ioConn struct {
	net.Conn
	s       *session
	timeout time.Duration
	until   atomic.Int64 // if set (Unix ns), the read deadline instead of now+timeout
}

var errKilled = errors.New("connection abandoned (operation cancelled or timed out)")

func (c *ioConn) Read(p []byte) (int, error) {
	if c.s.killed.Load() {
		return 0, errKilled
	}
	if u := c.until.Load(); u != 0 {
		c.Conn.SetReadDeadline(time.Unix(0, u))
	} else {
		c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Read(p)
	if err != nil && c.s.killed.Load() {
		err = errKilled
	}
	return n, err
}

func (c *ioConn) Write(p []byte) (int, error) {
	if c.s.killed.Load() {
		return 0, errKilled
	}
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	n, err := c.Conn.Write(p)
	if err != nil && c.s.killed.Load() {
		err = errKilled
	}
	return n, err
}

func (c *ioConn) Close() error {
	c.s.mu.Lock()
	for i, x := range c.s.conns {
		if x == c {
			c.s.conns = append(c.s.conns[:i], c.s.conns[i+1:]...)
			break
		}
	}
	c.s.mu.Unlock()
	return c.Conn.Close()
}

// kill makes the session's connections fail now (unblocking any read or
// write in flight); the session is then discarded.
func (s *session) kill() {
	s.killed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Conn.SetDeadline(time.Unix(1, 0))
	}
}

func (s *session) close() {
	s.kill()
	if s.sc != nil {
		s.sc.Quit() // fails at once: only closes the connection
	}
}

// readOnlyCache lets data connections resume the control connection's TLS
// session without replacing it with their own tickets.
type readOnlyCache struct{ c tls.ClientSessionCache }

func (r readOnlyCache) Get(key string) (*tls.ClientSessionState, bool) { return r.c.Get(key) }
func (r readOnlyCache) Put(string, *tls.ClientSessionState)            {}

// dataConn is a TLS data connection that ends cleanly: see Close.
type dataConn struct {
	*tls.Conn
	raw *ioConn
	s   *session
}

// drainWait and drainMax bound what closing a data connection reads.
const (
	drainWait = 2 * time.Second
	drainMax  = 16 << 20
)

// Close sends close_notify and a TCP half-close, then reads what the server
// still sends until it closes its side, and only then closes. Closing a
// socket with unread data resets the connection instead: after an upload
// the unread data are the TLS 1.3 session tickets a client that only
// writes never reads, and vsftpd then fails the upload ("426 Failure
// reading network stream") though every byte arrived; after a ranged read
// that stopped early, pure-ftpd may have sent the rest already and wait
// for close_notify, never answering on the control connection. What is
// read is bounded (drainMax, drainWait); then the connection is closed
// regardless.
func (d *dataConn) Close() error {
	if d.ConnectionState().HandshakeComplete && !d.s.killed.Load() {
		if d.Conn.CloseWrite() == nil {
			if tc, ok := d.raw.Conn.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			d.raw.until.Store(time.Now().Add(drainWait).UnixNano())
			io.Copy(io.Discard, io.LimitReader(d.Conn, drainMax))
		}
	}
	return d.Conn.Close()
}

// dial opens and logs in a new session.
func (b *backend) dial(ctx context.Context) (*session, error) {
	s := &session{}
	var ctrlTLS, dataTLS *tls.Config
	if b.cfg.tlsConfig != nil {
		// One session cache per control connection: vsftpd (and others
		// with require_ssl_reuse) accept a data connection only if it
		// resumes this control connection's TLS session, and Go resumes
		// when the data connection's config shares the cache and the
		// ServerName (the cache key).
		ctrlTLS = b.cfg.tlsConfig.Clone()
		ctrlTLS.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		dataTLS = ctrlTLS.Clone()
		dataTLS.ClientSessionCache = readOnlyCache{ctrlTLS.ClientSessionCache}
	}
	first := true
	dialFunc := func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: b.cfg.timeout}
		dctx := ctx
		if !first {
			dctx = context.Background() // data connections: bounded by the timeout and kill
		}
		raw, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := &ioConn{Conn: raw, s: s, timeout: b.cfg.timeout}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		if s.killed.Load() {
			c.Conn.SetDeadline(time.Unix(1, 0))
		}
		control := first
		first = false
		if control {
			s.ctrl = c
		}
		switch {
		case b.cfg.tls == tlsImplicit && control:
			tc := tls.Client(c, ctrlTLS)
			if err := tc.HandshakeContext(ctx); err != nil {
				tc.Close()
				return nil, err
			}
			return tc, nil
		case b.cfg.tls != tlsNone && !control:
			// Not handshaken here: some servers (pure-ftpd) start TLS on a
			// data connection only after the command that uses it, which
			// is sent after this returns. The library handshakes empty
			// uploads itself.
			return &dataConn{Conn: tls.Client(c, dataTLS), raw: c, s: s}, nil
		}
		return c, nil
	}
	opts := []ftp.DialOption{ftp.DialWithDialFunc(dialFunc), ftp.DialWithContext(ctx)}
	switch b.cfg.tls {
	case tlsExplicit:
		opts = append(opts, ftp.DialWithExplicitTLS(ctrlTLS))
	case tlsImplicit:
		opts = append(opts, ftp.DialWithTLS(ctrlTLS))
	}
	stop := context.AfterFunc(ctx, s.kill)
	defer stop()
	sc, err := ftp.Dial(b.cfg.addr, opts...)
	if err != nil {
		s.kill()
		return nil, b.connectError(ctx, "dial", err)
	}
	s.sc = sc
	if err := sc.Login(b.cfg.user, b.cfg.password); err != nil {
		s.close()
		return nil, b.connectError(ctx, "login", err)
	}
	return s, nil
}

// connectError explains a failure to connect (stage "dial": greeting and
// AUTH TLS) or to log in.
func (b *backend) connectError(ctx context.Context, stage string, err error) error {
	var cve *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var tpe *textproto.Error
	switch {
	case ctx.Err() != nil:
		return sdk.PermanentError("connect", "", fmt.Errorf("%w (%v)", ctx.Err(), err))
	case errors.As(err, &cve) || errors.As(err, &unknown) || errors.As(err, &host):
		return sdk.PermanentError("connect", "", fmt.Errorf("ftp: the TLS certificate of %s does not verify (%v): if the server uses a private CA or a self-signed certificate, set ca_file to that CA's PEM file (or the certificate itself); if it names another host, set server_name; verification is never skipped", b.cfg.addr, err))
	case errors.As(err, &tpe) && stage == "dial" && b.cfg.tls == tlsExplicit && tpe.Code >= 500:
		return sdk.PermanentError("connect", "", fmt.Errorf("ftp: %s refused AUTH TLS (%d %s): the server offers no explicit TLS; use tls = implicit if it speaks TLS on connect, or tls = none for plain FTP (password and data in clear)", b.cfg.addr, tpe.Code, strings.TrimSpace(tpe.Msg)))
	case errors.As(err, &tpe) && tpe.Code == 530 && b.cfg.tls == tlsNone && mentionsTLS(tpe.Msg):
		return sdk.PermanentError("connect", "", fmt.Errorf("ftp: %s requires TLS (%d %s): set tls = explicit (the default) and, for a private CA, ca_file", b.cfg.addr, tpe.Code, strings.TrimSpace(tpe.Msg)))
	case errors.As(err, &tpe) && tpe.Code == 530:
		return sdk.PermanentError("connect", "", fmt.Errorf("ftp: login as %q at %s refused (%d %s): check user and password", b.cfg.user, b.cfg.addr, tpe.Code, strings.TrimSpace(tpe.Msg)))
	case errors.As(err, &tpe) && tpe.Code >= 500:
		return sdk.PermanentError("connect", "", fmt.Errorf("ftp: %s refused the login of %q: %w", b.cfg.addr, b.cfg.user, err))
	case stage == "login" && !connError(err) && tpe == nil:
		// The library's answer to USER other than 230 or 331: the text only.
		if b.cfg.tls == tlsNone && mentionsTLS(err.Error()) {
			return sdk.PermanentError("connect", "", fmt.Errorf("ftp: %s requires TLS (%v): set tls = explicit (the default) and, for a private CA, ca_file", b.cfg.addr, err))
		}
		return sdk.PermanentError("connect", "", fmt.Errorf("ftp: login as %q at %s refused (%v): check user and password", b.cfg.user, b.cfg.addr, err))
	}
	return sdk.RetryableError("connect", "", fmt.Errorf("ftp: cannot reach %s: %w", b.cfg.addr, err))
}

func mentionsTLS(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "encrypt") || strings.Contains(m, "ssl") || strings.Contains(m, "tls")
}

// pool hands out sessions, at most cfg.conns at a time.
type pool struct {
	sem    chan struct{}
	mu     sync.Mutex
	idle   []*session
	closed bool
}

func newPool(n int) *pool { return &pool{sem: make(chan struct{}, n)} }

var errClosed = errors.New("ftp: backend closed")

// get returns an idle session (reused true) or a new one.
func (b *backend) get(ctx context.Context) (s *session, reused bool, err error) {
	p := b.pool
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, sdk.PermanentError("connect", "", ctx.Err())
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return nil, false, sdk.PermanentError("connect", "", errClosed)
	}
	if n := len(p.idle); n > 0 {
		s = p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return s, true, nil
	}
	p.mu.Unlock()
	s, err = b.dial(ctx)
	if err != nil {
		<-p.sem
		return nil, false, err
	}
	return s, false, nil
}

// put returns a session to the pool, or discards it if broken.
func (b *backend) put(s *session, broken bool) {
	p := b.pool
	p.mu.Lock()
	if broken || p.closed || s.killed.Load() {
		p.mu.Unlock()
		s.close()
	} else {
		p.idle = append(p.idle, s)
		p.mu.Unlock()
	}
	<-p.sem
}

func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, s := range idle {
		s.close()
	}
}

// step is what an operation does with a session; it sets *touched once it
// has consumed the caller's reader or written to the caller's writer, after
// which a failure is not retried on a fresh connection.
type step func(s *session, touched *bool) error

// with runs fn on a session. A network failure on a session taken idle
// from the pool (the server may have dropped it meanwhile) is retried once
// on a new connection if fn had not touched the caller's data.
func (b *backend) with(ctx context.Context, fn step) error {
	for attempt := 0; ; attempt++ {
		s, reused, err := b.get(ctx)
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, s.kill)
		touched := false
		err = fn(s, &touched)
		stop()
		broken := err != nil && (connError(err) || s.killed.Load())
		b.put(s, broken)
		if err != nil && broken && reused && !touched && attempt == 0 && ctx.Err() == nil {
			continue
		}
		// 425: the server could not open a data connection (its passive
		// ports all busy or waiting out TIME_WAIT): nothing was moved, and
		// a moment later one is free.
		if err != nil && code(err) == 425 && !strings.Contains(strings.ToLower(err.Error()), "ssl") && !touched && attempt < dataRetries && ctx.Err() == nil {
			select {
			case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
				continue
			case <-ctx.Done():
			}
		}
		return err
	}
}

// dataRetries is how often an operation is tried again after a 425.
const dataRetries = 4

// connError reports a failure of the connection rather than an answer of
// the server.
func connError(err error) bool {
	if err == nil {
		return false
	}
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		return tpe.Code == 421 // service closing the control connection
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, errKilled) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "tls:")
}

// code is the FTP reply code of err, 0 if none.
func code(err error) int {
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		return tpe.Code
	}
	return 0
}

// classify wraps an error of op on key: a dead or unreachable server is
// retryable, a 4xx reply too, a 5xx reply permanent, and a cancelled
// context permanent.
func (b *backend) classify(ctx context.Context, op, key string, err error) error {
	var se *sdk.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err
	case ctx.Err() != nil:
		return sdk.PermanentError(op, key, fmt.Errorf("%w (%v)", ctx.Err(), err))
	case code(err) == 522 || code(err) == 425 && strings.Contains(strings.ToLower(err.Error()), "ssl"):
		return sdk.PermanentError(op, key, fmt.Errorf("%w: the server refused a TLS data connection; if it demands TLS session reuse (vsftpd's require_ssl_reuse=YES) and the resumption failed, set require_ssl_reuse=NO in vsftpd.conf", err))
	case connError(err), code(err) >= 400 && code(err) < 500:
		return sdk.RetryableError(op, key, err)
	}
	return sdk.PermanentError(op, key, err)
}

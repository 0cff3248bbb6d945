package enginetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"
)

// VersitygwInstall is the command that installs the S3 server the engine's
// S3 tests run against.
const VersitygwInstall = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// S3Server is a real S3 server for tests: versitygw with its posix backend
// in a temporary directory, listening on 127.0.0.1, with one bucket.
// (plugins/s3's tests start it the same way; plugins may not import the
// engine, hence the repetition.)
type S3Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Access   string
	Secret   string
	Bucket   string

	bin  string
	args []string
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *strings.Builder
}

// StartS3Server starts versitygw (from PATH or $(go env GOPATH)/bin) on a
// free loopback port, waits until it answers, creates the bucket, and stops
// it when t ends. Without versitygw it skips t with the install command, or
// fails it when RequireDisplayEnv=1 (CI must not pass by skipping).
func StartS3Server(t testing.TB) *S3Server {
	t.Helper()
	bin := findVersitygw()
	if bin == "" {
		msg := "versitygw not found in PATH or $(go env GOPATH)/bin; install it with: " + VersitygwInstall
		if os.Getenv(RequireDisplayEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	root, sidecar := filepath.Join(dir, "root"), filepath.Join(dir, "meta")
	for _, d := range []string{root, sidecar} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &S3Server{
		Endpoint: "http://" + addr,
		Access:   "skyloopAK",
		Secret:   "skyloopSK-secret",
		Bucket:   "skyloop-test",
		bin:      bin,
		addr:     addr,
	}
	// versitygw keeps metadata in extended attributes; where the temp file
	// system has none, in a sidecar directory.
	args := []string{"--access", s.Access, "--secret", s.Secret, "--port", addr, "--quiet", "posix"}
	if err := unix.Setxattr(root, "user.skyloop-probe", []byte("1"), 0); err != nil {
		args = append(args, "--sidecar", sidecar)
	}
	s.args = append(args, root)
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client(ctx).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("creating bucket %s: %v", s.Bucket, err)
	}
	return s
}

func findVersitygw() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
		p := filepath.Join(dir, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// start launches the server process and waits until its port answers.
func (s *S3Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("versitygw already running")
	}
	cmd := exec.Command(s.bin, s.args...)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.logs = cmd, done, logs
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("versitygw exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("versitygw did not answer on %s within 20s: %s", s.addr, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (its data stays, for Restart). It is idempotent.
func (s *S3Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *S3Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts a stopped server again on the same port and directory.
func (s *S3Server) Restart(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.start()
		if err == nil {
			return
		}
		// The port may be briefly unavailable after the kill.
		if time.Now().After(deadline) {
			t.Fatalf("restarting versitygw: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Client is a plain S3 client for the server (path-style, static
// credentials), for a test's own assertions.
func (s *S3Server) Client(ctx context.Context) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(s.Access, s.Secret, ""),
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
	})
}

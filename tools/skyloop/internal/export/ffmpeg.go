package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoFFmpeg is returned when ffmpeg is not on PATH.
var ErrNoFFmpeg = errors.New("mp4 export needs ffmpeg: install it (Debian/Ubuntu: apt install ffmpeg)")

// VideoOptions configure the encoder.
type VideoOptions struct {
	Width, Height int  // of the raw RGBA frames written; even unless Lossless
	Rate          Rate // constant frame rate
	CRF           int  // libx264 constant rate factor (0-51, lower is better)
	Lossless      bool // libx264rgb -qp 0: exact pixels, RGB, larger files, fewer players
}

// FFmpeg is an ffmpeg process encoding raw RGBA frames written to it into
// an MP4 file.
type FFmpeg struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tail
	frames int
	done   bool
}

// StartFFmpeg starts ffmpeg writing the MP4 to path (overwritten). The
// process is killed when ctx is cancelled; Close or Abort reaps it.
func StartFFmpeg(ctx context.Context, path string, o VideoOptions) (*FFmpeg, error) {
	bin, err := lookFFmpeg()
	if err != nil {
		return nil, err
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgba", "-s", fmt.Sprintf("%dx%d", o.Width, o.Height),
		"-framerate", o.Rate.String(), "-i", "-", "-an"}
	if o.Lossless {
		args = append(args, "-c:v", "libx264rgb", "-qp", "0", "-pix_fmt", "rgb24")
	} else {
		args = append(args, "-c:v", "libx264", "-crf", strconv.Itoa(o.CRF), "-pix_fmt", "yuv420p")
	}
	args = append(args, "-movflags", "+faststart", "-f", "mp4", path)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	f := &FFmpeg{cmd: cmd, stderr: &tail{max: 4096}}
	cmd.Stderr = f.stderr
	if f.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	return f, nil
}

// Write sends one raw frame (Width×Height×4 bytes). When ffmpeg has
// failed, the error is ffmpeg's.
func (f *FFmpeg) Write(frame []byte) error {
	if _, err := f.stdin.Write(frame); err != nil {
		werr := f.wait()
		if werr == nil {
			werr = err
		}
		return werr
	}
	f.frames++
	return nil
}

// Frames is the number of frames written.
func (f *FFmpeg) Frames() int { return f.frames }

// Close ends the input and waits for ffmpeg to finish the file.
func (f *FFmpeg) Close() error { return f.wait() }

// Abort kills ffmpeg and reaps it. Idempotent; harmless after Close.
func (f *FFmpeg) Abort() {
	if f.done {
		return
	}
	_ = f.cmd.Process.Kill()
	_ = f.wait()
}

func (f *FFmpeg) wait() error {
	if f.done {
		return nil
	}
	f.done = true
	f.stdin.Close()
	err := f.cmd.Wait()
	if err == nil {
		return nil
	}
	if msg := strings.TrimSpace(f.stderr.String()); msg != "" {
		return fmt.Errorf("ffmpeg failed: %w: %s", err, msg)
	}
	return fmt.Errorf("ffmpeg failed: %w", err)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func lookFFmpeg() (string, error) {
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", ErrNoFFmpeg
	}
	return p, nil
}

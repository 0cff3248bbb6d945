package export

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// Formats are the export formats.
var Formats = []string{"png", "gif", "mp4"}

// MaxDefaultFPS caps the MP4 frame rate taken from a recording: a game
// recorded with vsync off may render hundreds of frames a second, which
// players handle badly. --fps overrides it.
const MaxDefaultFPS = 120

// Source yields decoded frames; recordings.FrameReader is one. The frame's
// image is only valid during fn.
type Source interface {
	Each(ctx context.Context, from, to uint64, fn func(segment.Frame) error) error
}

// FrameTime is one stored frame to export, as the session's index lists it.
type FrameTime struct {
	Seq  uint64
	Time time.Time
}

// Job is one export.
type Job struct {
	Format string // png, gif or mp4
	Out    string // directory for png, file for gif and mp4
	Force  bool   // png: write into a non-empty directory
	// Frames are the stored frames from From to To, in order; Source must
	// yield exactly these.
	Frames        []FrameTime
	From, To      uint64
	Width, Height int // of the recorded frames
	Scale         Scale
	FPS           float64 // gif: show every frame 1/FPS s; mp4: output rate; 0: from the recording
	CRF           int     // mp4
	Lossless      bool    // mp4
	Workers       int     // png and gif encoders; 0: GOMAXPROCS
	Progress      func(done int)
}

// Result says what was written.
type Result struct {
	Path   string
	Frames int   // recorded frames exported
	Bytes  int64 // written in all
	// VideoFrames and FPS describe the MP4 (frames repeated or dropped to
	// keep the recorded timing at a constant rate).
	VideoFrames int
	FPS         float64
	Duration    time.Duration // gif and mp4: playing time
	Notes       []string      // things the user should know (padding, frame rate caps)
}

// ErrDirNotEmpty refuses to mix an export with other files.
var ErrDirNotEmpty = errors.New("is not empty")

// CheckPNGDir refuses a non-empty directory unless force.
func CheckPNGDir(dir string, force bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 && !force {
		return fmt.Errorf("--out %s %w (%d entries): choose an empty or new directory, or pass --force to write into it", dir, ErrDirNotEmpty, len(ents))
	}
	return nil
}

// Run exports job.Frames from src.
func Run(ctx context.Context, src Source, job Job) (Result, error) {
	if len(job.Frames) == 0 {
		return Result{}, fmt.Errorf("no stored frame between %d and %d", job.From, job.To)
	}
	if job.Workers <= 0 {
		job.Workers = runtime.GOMAXPROCS(0)
	}
	switch job.Format {
	case "png":
		return runPNG(ctx, src, job)
	case "gif":
		return runGIF(ctx, src, job)
	case "mp4":
		return runMP4(ctx, src, job)
	}
	return Result{}, fmt.Errorf("unknown format %q (want %s)", job.Format, strings.Join(Formats, ", "))
}

func (j *Job) progress(n int) {
	if j.Progress != nil {
		j.Progress(n)
	}
}

func (j *Job) times() []time.Time {
	t := make([]time.Time, len(j.Frames))
	for i, f := range j.Frames {
		t[i] = f.Time
	}
	return t
}

func runPNG(ctx context.Context, src Source, job Job) (Result, error) {
	if err := CheckPNGDir(job.Out, job.Force); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(job.Out, 0o755); err != nil {
		return Result{}, err
	}
	w, h := job.Scale.Size(job.Width, job.Height)
	enc := png.Encoder{CompressionLevel: png.DefaultCompression, BufferPool: &pngPool{}}
	var total int64
	done := 0
	err := parallel(ctx, src, &job, w, h, false,
		func(i int, seq uint64, img *image.RGBA, _ image.Rectangle) (any, error) {
			name := filepath.Join(job.Out, fmt.Sprintf("frame-%08d.png", seq))
			return writeAtomic(name, func(f *os.File) error { return enc.Encode(f, img) })
		},
		func(i int, v any) error {
			total += v.(int64)
			done++
			job.progress(done)
			return nil
		})
	if err != nil {
		return Result{}, err
	}
	return Result{Path: job.Out, Frames: done, Bytes: total}, nil
}

type pngPool struct{ p sync.Pool }

func (p *pngPool) Get() *png.EncoderBuffer {
	b, _ := p.p.Get().(*png.EncoderBuffer)
	return b
}
func (p *pngPool) Put(b *png.EncoderBuffer) { p.p.Put(b) }

// writeAtomic writes name through a temporary file in the same directory,
// renamed over name on success and removed on failure; it returns the
// size written.
func writeAtomic(name string, write func(*os.File) error) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			size = st.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write %s: %w", name, err)
	}
	return size, nil
}

func runGIF(ctx context.Context, src Source, job Job) (Result, error) {
	w, h := job.Scale.Size(job.Width, job.Height)
	var delays []int
	if job.FPS > 0 {
		delays = FixedTicks(len(job.Frames), job.FPS, 100, 1)
	} else {
		delays = Ticks(job.times(), MedianInterval(job.times()), 100, 1)
	}
	var res Result
	for _, d := range delays {
		res.Duration += time.Duration(d) * 10 * time.Millisecond
		if d == 1 && len(res.Notes) == 0 {
			res.Notes = append(res.Notes, "some frames last 1/100 s: many GIF viewers slow such frames down to 1/10 s; pass --fps 50 or less for a GIF that plays the same everywhere (at that speed)")
		}
	}
	size, err := writeAtomic(job.Out, func(f *os.File) error {
		g, err := NewGIFWriter(f, w, h)
		if err != nil {
			return err
		}
		done := 0
		err = parallel(ctx, src, &job, w, h, true,
			func(i int, seq uint64, img *image.RGBA, changed image.Rectangle) (any, error) {
				// Only the part that changed since the frame before is
				// stored; the rest of the picture stays from that frame
				// (GIF's "do not dispose"). A frame that changed nothing
				// still needs a block to carry its delay: one pixel.
				if changed.Empty() {
					changed = image.Rect(0, 0, 1, 1)
				}
				return EncodeFrame(Quantize(img.SubImage(changed).(*image.RGBA)), delays[i], w, h)
			},
			func(i int, v any) error {
				if err := g.WriteBlock(v.([]byte)); err != nil {
					return err
				}
				done++
				job.progress(done)
				return nil
			})
		if err != nil {
			return err
		}
		res.Frames = g.Frames()
		return g.Close()
	})
	if err != nil {
		return Result{}, err
	}
	res.Path, res.Bytes = job.Out, size
	return res, nil
}

func runMP4(ctx context.Context, src Source, job Job) (Result, error) {
	if _, err := lookFFmpeg(); err != nil {
		return Result{}, err
	}
	var res Result
	sw, sh := job.Scale.Size(job.Width, job.Height)
	w, h := sw, sh
	if !job.Lossless && (w%2 != 0 || h%2 != 0) {
		w, h = w+w%2, h+h%2
		res.Notes = append(res.Notes, fmt.Sprintf("frames of %dx%d padded with black to %dx%d: H.264 in yuv420p needs even sizes", sw, sh, w, h))
	}
	times := job.times()
	med := MedianInterval(times)
	fps := job.FPS
	if fps <= 0 {
		fps = RoundFPS(med)
		if fps > MaxDefaultFPS {
			res.Notes = append(res.Notes, fmt.Sprintf("the recording runs at %g frames a second: the video runs at %d, dropping frames to keep the timing (--fps to change)", fps, MaxDefaultFPS))
			fps = MaxDefaultFPS
		}
	}
	reps := Ticks(times, med, fps, 0)
	total := 0
	for _, r := range reps {
		total += r
	}
	if total == 0 {
		reps[len(reps)-1], total = 1, 1
	}
	res.FPS, res.VideoFrames = fps, total
	res.Duration = time.Duration(float64(total) / fps * float64(time.Second))

	dir, base := filepath.Split(job.Out)
	if dir == "" {
		dir = "."
	}
	tmpf, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return Result{}, err
	}
	tmp := tmpf.Name()
	tmpf.Close()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	ff, err := StartFFmpeg(ctx, tmp, VideoOptions{Width: w, Height: h, FPS: fps, CRF: job.CRF, Lossless: job.Lossless})
	if err != nil {
		return Result{}, err
	}
	defer ff.Abort()
	buf := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(buf.Pix); i += 4 {
		buf.Pix[i] = 255 // padding is opaque black
	}
	i := 0
	err = src.Each(ctx, job.From, job.To, func(f segment.Frame) error {
		if i >= len(reps) {
			return fmt.Errorf("frame %d: more frames than the index lists", f.Seq)
		}
		if reps[i] > 0 {
			job.Scale.Apply(buf, f.Image)
		}
		for range reps[i] {
			if err := ff.Write(buf.Pix); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
		}
		i++
		job.progress(i)
		return nil
	})
	if err == nil && i != len(reps) {
		err = fmt.Errorf("read %d frames, the index lists %d", i, len(reps))
	}
	if err != nil {
		return Result{}, err
	}
	if err := ff.Close(); err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return Result{}, err
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return Result{}, err
	}
	if err := os.Rename(tmp, job.Out); err != nil {
		return Result{}, err
	}
	ok = true
	res.Path, res.Frames, res.Bytes = job.Out, i, st.Size()
	return res, nil
}

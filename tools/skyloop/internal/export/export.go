package export

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// Formats are the export formats.
var Formats = []string{"png", "gif", "mp4"}

// MaxDefaultFPS caps the MP4 frame rate taken from a recording: a game
// recorded with vsync off may render hundreds of frames a second, which
// players handle badly. A recording faster than this becomes a video at
// CappedFPS. --fps overrides both.
const (
	MaxDefaultFPS = 144
	CappedFPS     = 120
)

// MaxGIFFPS is the highest --fps a GIF can show: its delays are in 1/100 s.
const MaxGIFFPS = 100

// Source yields decoded frames; recordings.FrameReader is one. Walk calls
// fn with every stored frame from from to to in order; the frame's image is
// only valid during fn. A frame that does not decode comes with its damage
// (non-nil, saying why) and no image, and the walk goes on; Walk's own
// error is for a failure that stops it (a failing store, a cancelled ctx,
// fn's error).
type Source interface {
	Walk(ctx context.Context, from, to uint64, fn func(f segment.Frame, damage error) error) error
}

// Damaged is a frame that did not decode, left out of the export: PNG
// writes no file for it, GIF and MP4 hold the frame before it, as for a
// gap.
type Damaged struct {
	Seq uint64
	Err error // why
}

// ErrDamaged is a damaged frame met with Job.Strict: the export stops and
// writes nothing.
var ErrDamaged = errors.New("damaged frame")

// ErrNothingIntact means every frame asked for is damaged: there is
// nothing to write.
var ErrNothingIntact = errors.New("no frame decodes")

// FrameTime is one stored frame to export, as the session's index lists it.
type FrameTime struct {
	Seq  uint64
	Time time.Time
}

// Job is one export.
type Job struct {
	Format string // png, gif or mp4
	Out    string // directory for png, file for gif and mp4
	// Force replaces an existing Out (CheckOut says what is refused
	// without it).
	Force bool
	// Frames are the stored frames from From to To, in order; Source must
	// yield exactly these.
	Frames        []FrameTime
	From, To      uint64
	Width, Height int // of the recorded frames
	Scale         Scale
	// FPS is the output's frame rate for gif and mp4: the frame shown at
	// each 1/FPS s tick is the one captured last before it (held or skipped
	// as needed). 0: gif follows every recorded frame's own time, mp4 runs
	// at the recording's rate (SnapRate).
	FPS      float64
	CRF      int  // mp4
	Lossless bool // mp4
	Workers  int  // png and gif encoders; 0: GOMAXPROCS
	// Strict stops the export at the first damaged frame with an error
	// wrapping ErrDamaged, leaving nothing written (no gif or mp4 file, no
	// png file of this run). Otherwise damaged frames are left out (see
	// Damaged) and listed in Result.Damaged.
	Strict   bool
	Progress func(done int)
}

// Result says what was written.
type Result struct {
	Path   string
	Frames int   // recorded frames exported
	Bytes  int64 // written in all
	// VideoFrames, FPS and Rate describe the MP4 (frames repeated or
	// dropped to keep the recorded timing at a constant rate).
	VideoFrames int
	FPS         float64
	Rate        Rate
	Duration    time.Duration // gif and mp4: playing time
	Notes       []string      // things the user should know (padding, frame rate caps)
	// Damaged are the frames that did not decode, in order: left out.
	Damaged []Damaged
}

// strictError is the error of a damaged frame under Job.Strict.
func strictError(damage error) error {
	return fmt.Errorf("%w (--strict): %v", ErrDamaged, damage)
}

// nothingIntact is the error of an export whose every frame is damaged.
func nothingIntact(job *Job, damaged []Damaged) error {
	msg := fmt.Sprintf("%v: all %d stored frames from %d to %d are damaged", ErrNothingIntact, len(job.Frames), job.From, job.To)
	if len(damaged) > 0 {
		msg += fmt.Sprintf(" (first: %v)", damaged[0].Err)
	}
	return &nothingIntactError{msg}
}

type nothingIntactError struct{ msg string }

func (e *nothingIntactError) Error() string { return e.msg }
func (e *nothingIntactError) Unwrap() error { return ErrNothingIntact }

// ErrExists refuses to replace an existing --out without Force.
var ErrExists = errors.New("exists")

// ErrNotAnExport refuses, even with Force, to replace a directory that
// holds files a PNG export did not write.
var ErrNotAnExport = errors.New("not an export")

// FormatOf infers the format from out: an existing directory → png, a
// .gif file → gif, .mp4 → mp4, no extension → png (a directory to make).
// Any other extension is an error that asks for --format.
func FormatOf(out string) (string, error) {
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return "png", nil
	}
	switch ext := strings.ToLower(filepath.Ext(out)); ext {
	case ".gif":
		return "gif", nil
	case ".mp4":
		return "mp4", nil
	case "":
		return "png", nil
	default:
		return "", fmt.Errorf("--out %s: cannot tell the format from %q: name a .gif or .mp4 file or a directory (png), or pass --format %s", out, ext, strings.Join(Formats, "|"))
	}
}

// CheckFormat refuses an explicit format that out's extension
// contradicts (--format gif --out x.mp4).
func CheckFormat(format, out string) error {
	ext := strings.ToLower(filepath.Ext(out))
	var implied string
	switch ext {
	case ".gif":
		implied = "gif"
	case ".mp4":
		implied = "mp4"
	}
	if implied != "" && implied != format {
		return fmt.Errorf("--format %s contradicts --out %s, which names a %s file: drop --format, or give --out a name that fits %s", format, out, implied, format)
	}
	return nil
}

// framePattern matches what a PNG export writes: its frames and, from an
// export that was interrupted, their temporary files.
var framePattern = regexp.MustCompile(`^(frame-[0-9]{8}\.png|\.frame-[0-9]{8}\.png\..*\.tmp)$`)

// CheckOut applies the one overwrite rule of every format: an existing
// out — a gif or mp4 file, a png directory that is not empty — is refused
// with ErrExists unless force, and with force it is replaced. A png
// directory is replaced only when everything in it is a PNG export's
// (ErrNotAnExport otherwise: --force never deletes other files).
func CheckOut(format, out string, force bool) error {
	st, err := os.Stat(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if format != "png" {
		if st.IsDir() {
			return fmt.Errorf("--out %s is a directory: %s export writes one file", out, format)
		}
		if !force {
			return fmt.Errorf("--out %s %w: pass --force to replace it", out, ErrExists)
		}
		return nil
	}
	if !st.IsDir() {
		return fmt.Errorf("--out %s is a file: png export writes a directory of frame-NNNNNNNN.png files", out)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if len(ents) == 0 {
		return nil
	}
	if !force {
		return fmt.Errorf("--out %s %w and is not empty (%d entries): pass --force to replace the PNG export in it, or choose an empty or new directory", out, ErrExists, len(ents))
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !framePattern.MatchString(e.Name()) {
			return fmt.Errorf("--out %s holds %s, which is %w written by a PNG export: --force replaces only frame-NNNNNNNN.png files; choose an empty or new directory", out, e.Name(), ErrNotAnExport)
		}
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
	if err := CheckOut("png", job.Out, job.Force); err != nil {
		return Result{}, err
	}
	// What is there now (with Force, a previous export) is replaced: files
	// this export does not rewrite are removed once it has succeeded.
	old, _ := os.ReadDir(job.Out)
	if err := os.MkdirAll(job.Out, 0o755); err != nil {
		return Result{}, err
	}
	w, h := job.Scale.Size(job.Width, job.Height)
	enc := png.Encoder{CompressionLevel: png.DefaultCompression, BufferPool: &pngPool{}}
	var total int64
	done := 0
	written := map[string]bool{}
	var mu sync.Mutex
	var made []string // every file this run wrote, for a strict failure to remove
	damaged, err := parallel(ctx, src, &job, w, h, false, nil,
		func(i int, seq uint64, img *image.RGBA, _ image.Rectangle) (any, error) {
			name := filepath.Join(job.Out, frameName(seq))
			n, err := writeAtomic(name, func(f *os.File) error { return enc.Encode(f, img) })
			if err == nil {
				mu.Lock()
				made = append(made, name)
				mu.Unlock()
			}
			return n, err
		},
		func(i int, v any, bad bool) error {
			if !bad {
				total += v.(int64)
				written[frameName(job.Frames[i].Seq)] = true
				done++
			}
			job.progress(i + 1)
			return nil
		})
	if err == nil && done == 0 {
		err = nothingIntact(&job, damaged)
	}
	if err != nil {
		if errors.Is(err, ErrDamaged) {
			for _, name := range made {
				os.Remove(name)
			}
		}
		return Result{}, err
	}
	for _, e := range old {
		if !written[e.Name()] {
			if err := os.Remove(filepath.Join(job.Out, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return Result{}, fmt.Errorf("replace the export in %s: %w", job.Out, err)
			}
		}
	}
	return Result{Path: job.Out, Frames: done, Bytes: total, Damaged: damaged}, nil
}

func frameName(seq uint64) string { return fmt.Sprintf("frame-%08d.png", seq) }

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

// gifDelays says which frames a GIF shows and for how long (1/100 s):
// each recorded frame for its own duration (every frame at least 1/100 s)
// or, with fps, the frames picked on a clock of fps ticks a second (see
// pick), each shown for the ticks it holds. Rounding is carried over so
// the total stays right. A frame with delay 0 is not in the GIF.
func gifDelays(job *Job) []int {
	times := job.times()
	med := MedianInterval(times)
	if job.FPS <= 0 {
		return Ticks(times, med, 100, 1)
	}
	reps := pick(times, med, job.FPS)
	delays := make([]int, len(reps))
	ticks, emitted := 0, 0
	for i, r := range reps {
		if r == 0 {
			continue
		}
		ticks += r
		end := int(math.Round(float64(ticks) * 100 / job.FPS))
		delays[i] = max(end-emitted, 1)
		emitted += delays[i]
	}
	return delays
}

// pick is how many ticks of a clock running at fps each frame holds: the
// frame shown at a tick is the last one captured before it, so a frame is
// held through the ticks until the next one and skipped (0) when the next
// one comes before a tick. At least one frame is shown.
func pick(times []time.Time, last time.Duration, fps float64) []int {
	reps := Ticks(times, last, fps, 0)
	total := 0
	for _, r := range reps {
		total += r
	}
	if total == 0 {
		reps[len(reps)-1] = 1
	}
	return reps
}

func runGIF(ctx context.Context, src Source, job Job) (Result, error) {
	if err := CheckOut("gif", job.Out, job.Force); err != nil {
		return Result{}, err
	}
	w, h := job.Scale.Size(job.Width, job.Height)
	delays := gifDelays(&job)
	var keep []bool
	if job.FPS > 0 {
		keep = make([]bool, len(delays))
		for i, d := range delays {
			keep[i] = d > 0
		}
	}
	var res Result
	for _, d := range delays {
		if d == 1 && len(res.Notes) == 0 {
			res.Notes = append(res.Notes, "some frames last 1/100 s: many GIF viewers slow such frames down to 1/10 s; pass --fps 50 or less for a GIF that plays the same everywhere")
		}
	}
	size, err := writeAtomic(job.Out, func(f *os.File) error {
		g, err := NewGIFWriter(f, w, h)
		if err != nil {
			return err
		}
		// A frame's block is written once the next intact frame comes, so
		// that a damaged frame between them is held, as over a gap: the
		// frame lasts until the next intact one's time (Ticks over the
		// intact frames: the GIF is then the one a recording without the
		// damaged frames gives) or, with FPS, for its ticks and theirs.
		// Damaged frames before the first intact one are left out, as
		// frames missing at the start are.
		var pending []byte
		pendingAt, pendingDelay := -1, 0
		var t0 time.Time
		emitted := 0 // ticks written
		med := MedianInterval(job.times())
		flush := func(next int) error { // next: the intact frame after the pending one, -1 at the end
			if pending == nil {
				return nil
			}
			d := pendingDelay
			if job.FPS <= 0 {
				end := job.Frames[pendingAt].Time.Sub(t0) + med
				if next >= 0 {
					end = job.Frames[next].Time.Sub(t0)
				}
				d = max(int(math.Round(end.Seconds()*100))-emitted, 1)
			}
			d = min(d, 65535) // a GIF delay holds at most 655.35 s
			emitted += d
			block, err := withDelay(pending, d)
			if err != nil {
				return err
			}
			if err := g.WriteBlock(block); err != nil {
				return err
			}
			res.Duration += time.Duration(d) * 10 * time.Millisecond
			pending = nil
			return nil
		}
		damaged, err := parallel(ctx, src, &job, w, h, true, keep,
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
			func(i int, v any, bad bool) error {
				job.progress(i + 1)
				if bad {
					if pending != nil {
						pendingDelay += delays[i]
					}
					return nil
				}
				if pendingAt < 0 {
					t0 = job.Frames[i].Time
				}
				if err := flush(i); err != nil {
					return err
				}
				pending, pendingAt, pendingDelay = v.([]byte), i, delays[i]
				return nil
			})
		if err == nil {
			err = flush(-1)
		}
		if err != nil {
			return err
		}
		res.Damaged = damaged
		if g.Frames() == 0 {
			return nothingIntact(&job, damaged)
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

// videoRate is the MP4's frame rate: --fps as asked (RateOf), else the
// recording's median rate snapped to a clean one (SnapRate), at most
// MaxDefaultFPS.
func videoRate(job *Job, med time.Duration) (Rate, string) {
	if job.FPS > 0 {
		return RateOf(job.FPS), ""
	}
	r := RateOfInterval(med)
	if r.Float() > MaxDefaultFPS {
		return Rate{CappedFPS, 1}, fmt.Sprintf("the recording runs at %s frames a second: the video runs at %d, dropping frames to keep the timing (--fps to change)",
			strconv.FormatFloat(float64(time.Second)/float64(med), 'f', 1, 64), CappedFPS)
	}
	return r, ""
}

func runMP4(ctx context.Context, src Source, job Job) (Result, error) {
	if _, err := lookFFmpeg(); err != nil {
		return Result{}, err
	}
	if err := CheckOut("mp4", job.Out, job.Force); err != nil {
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
	rate, note := videoRate(&job, med)
	if note != "" {
		res.Notes = append(res.Notes, note)
	}
	fps := rate.Float()
	reps := pick(times, med, fps)
	res.FPS, res.Rate = fps, rate

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
	ff, err := StartFFmpeg(ctx, tmp, VideoOptions{Width: w, Height: h, Rate: rate, CRF: job.CRF, Lossless: job.Lossless})
	if err != nil {
		return Result{}, err
	}
	defer ff.Abort()
	buf := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(buf.Pix); i += 4 {
		buf.Pix[i] = 255 // padding is opaque black
	}
	i, shown, total := 0, 0, 0
	err = src.Walk(ctx, job.From, job.To, func(f segment.Frame, damage error) error {
		if i >= len(reps) {
			return fmt.Errorf("frame %d: more frames than the index lists", f.Seq)
		}
		n := reps[i]
		switch {
		case damage != nil && job.Strict:
			return strictError(damage)
		case damage != nil:
			// Held: the frame before stays on screen for this one's ticks,
			// as over a gap; before the first intact frame there is nothing
			// to hold, and the video starts later, as after a gap at the start.
			res.Damaged = append(res.Damaged, Damaged{Seq: f.Seq, Err: damage})
			if shown == 0 {
				n = 0
			}
		default:
			// Every intact frame, shown or skipped, is the one a damaged
			// frame after it holds.
			job.Scale.Apply(buf, f.Image)
		}
		if damage == nil {
			shown++
		}
		for range n {
			if err := ff.Write(buf.Pix); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
		}
		total += n
		i++
		job.progress(i)
		return nil
	})
	if err == nil && i != len(reps) {
		err = fmt.Errorf("read %d frames, the index lists %d", i, len(reps))
	}
	if err == nil && shown == 0 {
		err = nothingIntact(&job, res.Damaged)
	}
	if err == nil && total == 0 { // the only frame picked was damaged: show the last intact one
		err = ff.Write(buf.Pix)
		total = 1
	}
	if err != nil {
		return Result{}, err
	}
	res.VideoFrames = total
	res.Duration = time.Duration(float64(total) / fps * float64(time.Second))
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
	res.Path, res.Frames, res.Bytes = job.Out, shown, st.Size()
	return res, nil
}

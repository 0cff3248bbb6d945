package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/export"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newExportCmd) }

func newExportCmd(a *app) *cobra.Command {
	var (
		sink, format, out, scale string
		from, to                 uint64
		fps                      float64
		crf                      int
		force, lossless, strict  bool
	)
	cmd := &cobra.Command{
		Use:   "export SESSION --out PATH [--format png|gif|mp4]",
		Short: "Write a session's frames as PNG files, an animated GIF or an MP4 video",
		Long: `export decodes the frames of a session (all of them, or --from N --to M,
frame numbers as 'verify' and the viewer show them) and writes them out.
The format follows --out: a .gif file is a GIF, a .mp4 file an MP4, a
directory (or a name without an extension) PNG files; --format says it
outright, and a --format that the extension contradicts is an error.

  png  --out is a directory (created), one frame-NNNNNNNN.png per stored
       frame, named by its frame number, with the exact recorded pixels.
       Frames missing from the recording (gaps) have no file.
  gif  --out is a file. Each frame gets its own palette: its exact colours
       when it has at most 256 (flat-colour games come out lossless), else a
       median-cut palette with Floyd–Steinberg dithering. Each frame is shown
       for its recorded duration (to the GIF's 1/100 s, rounding carried
       over so the total stays right).
  mp4  --out is a file, H.264 (yuv420p, --crf) or lossless RGB (--lossless)
       through ffmpeg, which must be on PATH. The video has a constant frame
       rate: the recording's, as a standard rate (24000/1001, 24, 25,
       30000/1001, 30, 50, 60000/1001, 60, 120, 144, …) when the measured
       rate is within 2% of one, else a whole number; a recording faster
       than 144 frames a second becomes 120. Odd sizes are padded with a
       black row or column (yuv420p needs even sizes).

--fps F sets the output's frame rate, for gif and mp4 alike: on a clock of
F ticks a second, each tick shows the frame that was on screen at that
moment (the tick's middle), so a frame is held or skipped as needed and the
output lasts as long as the recording: the GIF's delays add up to the MP4's
frame count / F. GIF delays are then multiples of 1/F s rounded to 1/100 s
with the rounding carried over (at most --fps 100 for a GIF; 50 or less
plays the same in every viewer).

An existing --out is never replaced without --force: a gif or mp4 file that
exists, or a png directory that is not empty, is refused (exit 2). With
--force the file is replaced, and a png directory's previous export is
replaced (frames this export does not write are removed); a directory that
holds anything other than exported frames is refused even then.

In gif and mp4 a gap in the recording shows as the frame before it held for
the gap's duration, so the timing stays true.

Damage is a gap with a reason: frames of a segment that is missing,
foreign (another session's), misnumbered (stored under another segment's
key), empty (zero-length), cut short (truncated) or corrupt, and frames
whose bytes fail their CRC, are left out like missing frames (png: no file;
gif and mp4: the frame before is held), and every damaged range is listed
on stderr with its frames, segment and kind. The export still succeeds
with the intact frames; it fails (exit 1) only when no frame in the range is
intact, or with --strict, which makes any damage in the range an error and
then writes nothing (no gif or mp4 file, no png file of this run). The last frame is shown for the
median frame interval. --scale 2 (3, …) enlarges pixels crisply; a factor
like 0.5 resamples (Catmull-Rom).

gif and mp4 are written to a temporary file beside --out and renamed when
complete: an interrupted export leaves nothing that looks finished.

SESSION is GAME/PLAYER/SESSION as 'skyloop sessions' prints it, the SESSION
id alone, or a unique prefix of either.`,
		Example: `  skyloop export 20261124T20 --out run.gif
  skyloop export 20261124T20 --out run.mp4 --fps 30 --force
  skyloop export breakout/alice/20261124T201500.123Z-3f2a --out frames/ --from 100 --to 200`,
		Args: exactArgs(1, "SESSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if out == "" {
				return usageError("--out is required: a .gif or .mp4 file, or a directory for PNG files")
			}
			if format == "" {
				f, err := export.FormatOf(out)
				if err != nil {
					return usageError("%v", err)
				}
				format = f
			} else {
				if !slices.Contains(export.Formats, format) {
					return usageError("--format %q: unknown format (want one of %s)", format, strings.Join(export.Formats, ", "))
				}
				if err := export.CheckFormat(format, out); err != nil {
					return usageError("%v", err)
				}
			}
			job := export.Job{Format: format, Out: out, Force: force, FPS: fps, CRF: crf, Lossless: lossless, Strict: strict}
			if scale != "" {
				s, err := export.ParseScale(scale)
				if err != nil {
					return usageError("%v", err)
				}
				job.Scale = s
			}
			if cmd.Flags().Changed("fps") {
				switch {
				case format == "png":
					return usageError("--fps is for gif and mp4 (png writes every stored frame)")
				case fps <= 0 || fps > 1000:
					return usageError("--fps %g: want a frame rate above 0 and at most 1000", fps)
				case format == "gif" && fps > export.MaxGIFFPS:
					return usageError("--fps %g: a GIF shows at most %d frames a second (its delays are in 1/100 s)", fps, export.MaxGIFFPS)
				}
			}
			if crf < 0 || crf > 51 {
				return usageError("--crf %d: want 0 (best) to 51 (worst)", crf)
			}
			if lossless && format != "mp4" || cmd.Flags().Changed("crf") && format != "mp4" {
				return usageError("--crf and --lossless are for mp4")
			}
			if err := export.CheckOut(format, out, force); err != nil {
				if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
					return err // cannot look: not a usage problem
				}
				return usageError("%v", err)
			}
			if format != "png" {
				if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
					return usageError("--out %s: directory %s does not exist", out, filepath.Dir(out))
				}
				if format == "mp4" {
					if _, err := exec.LookPath("ffmpeg"); err != nil {
						return export.ErrNoFFmpeg
					}
				}
			}

			sess, st, sinks, err := a.findSession(ctx, sink, args[0])
			if err != nil {
				return err
			}
			defer closeSinks(sinks)
			sum, err := sess.Summarize(ctx, st)
			if err != nil {
				return fmt.Errorf("read %s in sink %s: %w", sess.Ref(), st.Name(), err)
			}
			if sum.Frames == 0 {
				return fmt.Errorf("%s in sink %s has no readable frame (run 'skyloop verify %s')", sess.Ref(), st.Name(), sess.Ref())
			}
			job.From, job.To = sum.FirstSeq, sum.LastSeq
			valid := fmt.Sprintf("frames %d-%d", sum.FirstSeq, sum.LastSeq)
			if cmd.Flags().Changed("from") {
				if from > sum.LastSeq {
					return usageError("--from %d is beyond the last frame (%s has %s)", from, sess.Ref(), valid)
				}
				job.From = from
			}
			if cmd.Flags().Changed("to") {
				if to > sum.LastSeq {
					return usageError("--to %d is beyond the last frame (%s has %s)", to, sess.Ref(), valid)
				}
				job.To = to
			}
			if job.From > job.To {
				return usageError("--from %d is after --to %d (%s has %s)", job.From, job.To, sess.Ref(), valid)
			}
			for _, fi := range sum.Index {
				if fi.Seq >= job.From && fi.Seq <= job.To {
					job.Frames = append(job.Frames, export.FrameTime{Seq: fi.Seq, Time: fi.Time})
				}
			}
			known := damagedIn(sum.Gaps, job.From, job.To)
			if len(job.Frames) == 0 {
				why := "gaps"
				if len(known) > 0 {
					why = "damaged: " + known[0].Reason()
				}
				return usageError("frames %d-%d of %s are all missing (%s); stored frames lie in %s (see 'skyloop verify %s')", job.From, job.To, sess.Ref(), why, valid, sess.Ref())
			}
			if strict && len(known) > 0 {
				for _, g := range known {
					fmt.Fprintf(a.stderr, "damaged: %s\n", describeGap(g))
				}
				return fmt.Errorf("export %s: --strict: %s damaged in frames %d-%d (listed above); nothing written (run 'skyloop verify %s', or drop --strict to export the intact frames)",
					sess.Ref(), plural(len(known), "range is", "ranges are"), job.From, job.To, sess.Ref())
			}
			job.Width, job.Height = sum.Width, sum.Height

			fr := recordings.NewFrameReader(st, sess, sum)
			defer fr.Close()
			bar := newProgress(a.stderr, len(job.Frames), "exporting "+sess.Ref())
			job.Progress = bar.Set
			res, err := export.Run(ctx, fr, job)
			bar.Finish()
			damaged := damagedIn(sum.GapsWith(fr.Damaged()), job.From, job.To)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("export %s: interrupted: %w", sess.Ref(), ctx.Err())
				}
				for _, g := range damaged {
					fmt.Fprintf(a.stderr, "damaged: %s\n", describeGap(g))
				}
				switch {
				case errors.Is(err, export.ErrDamaged):
					return fmt.Errorf("export %s: %w; nothing written (drop --strict to export the intact frames)", sess.Ref(), err)
				case errors.Is(err, export.ErrNothingIntact):
					return fmt.Errorf("export %s: %w; nothing written (run 'skyloop verify %s')", sess.Ref(), err, sess.Ref())
				}
				return fmt.Errorf("export %s: %w", sess.Ref(), err)
			}
			var lost uint64
			for _, g := range damaged {
				fmt.Fprintf(a.stderr, "damaged: %s\n", describeGap(g))
				lost += g.Frames()
			}
			for _, n := range res.Notes {
				fmt.Fprintln(a.stderr, "note:", n)
			}
			w, h := job.Scale.Size(sum.Width, sum.Height)
			switch format {
			case "png":
				fmt.Fprintf(a.stdout, "wrote %d PNG files (frames %d-%d, %dx%d) to %s: %s\n",
					res.Frames, job.From, job.To, w, h, res.Path, byteSize(res.Bytes))
			case "gif":
				fmt.Fprintf(a.stdout, "wrote %s: GIF, %d frames (frames %d-%d, %dx%d, %.2f s), %s\n",
					res.Path, res.Frames, job.From, job.To, w, h, res.Duration.Seconds(), byteSize(res.Bytes))
			case "mp4":
				rate := fmt.Sprint(res.Rate.Num) + " fps"
				if res.Rate.Den != 1 {
					rate = fmt.Sprintf("%s fps (≈%s)", res.Rate, strconv.FormatFloat(math.Round(res.FPS*1000)/1000, 'f', -1, 64))
				}
				fmt.Fprintf(a.stdout, "wrote %s: MP4, %d recorded frames as %d video frames at %s (frames %d-%d, %.2f s), %s\n",
					res.Path, res.Frames, res.VideoFrames, rate, job.From, job.To, res.Duration.Seconds(), byteSize(res.Bytes))
			}
			if len(damaged) > 0 {
				fmt.Fprintf(a.stdout, "left out %d damaged frames in %s (listed on stderr); --strict makes damage an error\n", lost, plural(len(damaged), "range", "ranges"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sink, "sink", "", "read from this sink only (its name in the config)")
	f.StringVar(&format, "format", "", "png, gif or mp4 (default: from --out: .gif, .mp4, else a png directory)")
	f.StringVarP(&out, "out", "o", "", "`PATH` to write: a .gif or .mp4 file, or a directory for png")
	f.Uint64Var(&from, "from", 0, "first frame number to export (default: the first)")
	f.Uint64Var(&to, "to", 0, "last frame number to export (default: the last)")
	f.StringVar(&scale, "scale", "", "resize by `S`: 2, 3, … enlarge pixels; 0.5 etc. resample")
	f.Float64Var(&fps, "fps", 0, "gif and mp4: the output's frame rate `F`, frames held or skipped by capture time (default: gif every frame's own time, mp4 the recording's rate)")
	f.IntVar(&crf, "crf", 18, "mp4: H.264 quality, 0 (best) to 51")
	f.BoolVar(&lossless, "lossless", false, "mp4: exact pixels (libx264rgb -qp 0; larger, not every player plays it)")
	f.BoolVar(&force, "force", false, "replace an existing --out (a file, or a png directory's previous export)")
	f.BoolVar(&strict, "strict", false, "fail (exit 1, writing nothing) when any frame in the range is damaged, instead of leaving damaged frames out")
	return cmd
}

// damagedIn is the damaged gaps of gaps within from..to, clipped to it.
func damagedIn(gaps []recordings.Gap, from, to uint64) []recordings.Gap {
	var out []recordings.Gap
	for _, g := range gaps {
		if !g.Kind.Damaged() || g.To < from || g.From > to {
			continue
		}
		g.From, g.To = max(g.From, from), min(g.To, to)
		out = append(out, g)
	}
	return out
}

// describeGap is one damaged range: frames, segment, kind, what was found.
func describeGap(g recordings.Gap) string {
	seg := ""
	if g.Segment != "" {
		seg = ", segment " + path.Base(g.Segment)
	}
	return fmt.Sprintf("%s (%d frames)%s, %s", g, g.Frames(), seg, g.Reason())
}

func byteSize(n int64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%s (%d bytes)", humanize.IBytes(uint64(n)), n)
}

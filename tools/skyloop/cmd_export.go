package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
		force, lossless          bool
	)
	cmd := &cobra.Command{
		Use:   "export SESSION --format png|gif|mp4 --out PATH",
		Short: "Write a session's frames as PNG files, an animated GIF or an MP4 video",
		Long: `export decodes the frames of a session (all of them, or --from N --to M,
frame numbers as 'verify' and the viewer show them) and writes them out:

  png  --out is a directory (created; refused when not empty unless --force),
       one frame-NNNNNNNN.png per stored frame, named by its frame number,
       with the exact recorded pixels. Frames missing from the recording
       (gaps) have no file.
  gif  --out is a file. Each frame gets its own palette: its exact colours
       when it has at most 256 (flat-colour games come out lossless), else a
       median-cut palette with Floyd–Steinberg dithering. Each frame is shown
       for its recorded duration (to the GIF's 1/100 s, rounding carried
       over so the total stays right); with --fps F every frame is shown 1/F s
       instead (faster or slower than recorded).
  mp4  --out is a file, H.264 (yuv420p, --crf) or lossless RGB (--lossless)
       through ffmpeg, which must be on PATH. The video has a constant frame
       rate, --fps or the recording's median rate (at most 120): frames are
       repeated or dropped to keep the recorded timing. Odd sizes are padded
       with a black row or column (yuv420p needs even sizes).

In gif and mp4 a gap in the recording shows as the frame before it held for
the gap's duration, so the timing stays true. The last frame is shown for the
median frame interval. --scale 2 (3, …) enlarges pixels crisply; a factor
like 0.5 resamples (Catmull-Rom).

gif and mp4 are written to a temporary file beside --out and renamed when
complete: an interrupted export leaves nothing that looks finished.

SESSION is GAME/PLAYER/SESSION as 'skyloop sessions' prints it, the SESSION
id alone, or a unique prefix of either.`,
		Args: exactArgs(1, "SESSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !slices.Contains(export.Formats, format) {
				if format == "" {
					return usageError("--format is required: one of %s", strings.Join(export.Formats, ", "))
				}
				return usageError("--format %q: unknown format (want one of %s)", format, strings.Join(export.Formats, ", "))
			}
			if out == "" {
				return usageError("--out is required (a directory for png, a file for %s)", format)
			}
			job := export.Job{Format: format, Out: out, Force: force, FPS: fps, CRF: crf, Lossless: lossless}
			if scale != "" {
				s, err := export.ParseScale(scale)
				if err != nil {
					return usageError("%v", err)
				}
				job.Scale = s
			}
			if cmd.Flags().Changed("fps") && (fps <= 0 || fps > 1000) {
				return usageError("--fps %g: want a frame rate above 0 and at most 1000", fps)
			}
			if crf < 0 || crf > 51 {
				return usageError("--crf %d: want 0 (best) to 51 (worst)", crf)
			}
			if lossless && format != "mp4" || cmd.Flags().Changed("crf") && format != "mp4" {
				return usageError("--crf and --lossless are for --format mp4")
			}
			if force && format != "png" {
				return usageError("--force is for --format png (gif and mp4 replace --out)")
			}
			switch format {
			case "png":
				if err := export.CheckPNGDir(out, force); err != nil {
					if errors.Is(err, export.ErrDirNotEmpty) {
						return usageError("%v", err)
					}
					return err
				}
			default:
				if st, err := os.Stat(out); err == nil && st.IsDir() {
					return usageError("--out %s is a directory: %s export writes one file", out, format)
				}
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
			if len(job.Frames) == 0 {
				return usageError("frames %d-%d of %s are all missing (gaps); stored frames lie in %s (see 'skyloop verify %s')", job.From, job.To, sess.Ref(), valid, sess.Ref())
			}
			job.Width, job.Height = sum.Width, sum.Height

			fr := recordings.NewFrameReader(st, sess, sum)
			defer fr.Close()
			bar := newProgress(a.stderr, len(job.Frames), "exporting "+sess.Ref())
			job.Progress = bar.Set
			res, err := export.Run(ctx, fr, job)
			bar.Finish()
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("export %s: interrupted: %w", sess.Ref(), ctx.Err())
				}
				return fmt.Errorf("export %s: %w", sess.Ref(), err)
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
				fmt.Fprintf(a.stdout, "wrote %s: MP4, %d recorded frames as %d video frames at %g fps (frames %d-%d, %.2f s), %s\n",
					res.Path, res.Frames, res.VideoFrames, res.FPS, job.From, job.To, res.Duration.Seconds(), byteSize(res.Bytes))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sink, "sink", "", "read from this sink only (its name in the config)")
	f.StringVar(&format, "format", "", "png, gif or mp4")
	f.StringVarP(&out, "out", "o", "", "`PATH` to write: a directory for png, a file for gif and mp4")
	f.Uint64Var(&from, "from", 0, "first frame number to export (default: the first)")
	f.Uint64Var(&to, "to", 0, "last frame number to export (default: the last)")
	f.StringVar(&scale, "scale", "", "resize by `S`: 2, 3, … enlarge pixels; 0.5 etc. resample")
	f.Float64Var(&fps, "fps", 0, "gif: show each frame 1/F s; mp4: video frame rate (default: the recording's)")
	f.IntVar(&crf, "crf", 18, "mp4: H.264 quality, 0 (best) to 51")
	f.BoolVar(&lossless, "lossless", false, "mp4: exact pixels (libx264rgb -qp 0; larger, not every player plays it)")
	f.BoolVar(&force, "force", false, "png: write into a directory that is not empty")
	return cmd
}

func byteSize(n int64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%s (%d bytes)", humanize.IBytes(uint64(n)), n)
}

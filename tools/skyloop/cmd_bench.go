package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/skyloop-engine/skyloop/engine/segment"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/bench"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
)

func init() { commands = append(commands, newBenchCmd, newBenchPluginCmd) }

func newBenchCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure encoding, plugin transport and in-game capture; print tables",
		Long: `bench prints measurements as tables (or --json):

  encode     segment encoding and decoding per frame, stored bytes against PNG
  transport  Puts to a plugin process over shared memory and over the gRPC stream
  capture    a game's frame rate and frame times with capture off and on

Every table starts with the machine it ran on; quote it with the numbers.`,
	}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.AddCommand(newBenchEncodeCmd(a, &asJSON), newBenchTransportCmd(a, &asJSON), newBenchCaptureCmd(a, &asJSON))
	return cmd
}

func (a *app) printMachine() {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	fmt.Fprintf(a.stdout, "machine: %s/%s, %d CPUs (%s), %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version())
}

// report prints rows as JSON, or as a table (headed by the machine) that
// table writes.
func (a *app) report(asJSON bool, rows any, header string, table func(tw *tabwriter.Writer)) error {
	if asJSON {
		return a.printJSON(rows)
	}
	a.printMachine()
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, header)
	table(tw)
	return tw.Flush()
}

func parseSizes(flag, list string) ([][2]int, error) {
	var out [][2]int
	for _, s := range strings.Split(list, ",") {
		var w, h int
		if n, err := fmt.Sscanf(strings.TrimSpace(s), "%dx%d", &w, &h); n != 2 || err != nil || w < 1 || h < 1 || w > segment.MaxDimension || h > segment.MaxDimension {
			return nil, usageError("--%s %q: want WxH[,WxH…], e.g. 1280x720,1920x1080 (at most %d per side)", flag, s, segment.MaxDimension)
		}
		out = append(out, [2]int{w, h})
	}
	return out, nil
}

func newBenchEncodeCmd(a *app, asJSON *bool) *cobra.Command {
	var sizes, codecs, session, sink string
	var frames, keyInterval int
	cmd := &cobra.Command{
		Use:   "encode",
		Short: "Segment encode/decode time per frame and stored bytes (synthetic scene, or a recorded session)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if frames < 2 || keyInterval < 1 {
				return usageError("--frames wants at least 2 and --key-interval at least 1")
			}
			var cs []segment.Codec
			for _, c := range strings.Split(codecs, ",") {
				codec, err := segment.ParseCodec(strings.TrimSpace(c))
				if err != nil {
					return usageError("--codec %q: %v", c, err)
				}
				cs = append(cs, codec)
			}
			var srcs []benchSource
			if session != "" {
				src, err := a.sessionFrames(cmd.Context(), sink, session, frames)
				if err != nil {
					return err
				}
				srcs = append(srcs, src)
			} else {
				dims, err := parseSizes("size", sizes)
				if err != nil {
					return err
				}
				for _, d := range dims {
					w, h := d[0], d[1]
					srcs = append(srcs, benchSource{name: "synthetic", w: w, h: h, frames: func() bench.Frames { return bench.SyntheticFrames(w, h, frames) }})
				}
			}
			var rows []bench.EncodeResult
			for _, s := range srcs {
				for _, c := range cs {
					fmt.Fprintf(a.stderr, "encoding %s %dx%d with %s …\n", s.name, s.w, s.h, c)
					r, err := bench.Encode(s.name, s.w, s.h, s.frames(), c, keyInterval)
					if err != nil {
						return err
					}
					rows = append(rows, r)
				}
			}
			return a.report(*asJSON, rows, "source\tsize\tcodec\tframes\tencode median ms\tp99 ms\tencode MB/s\tCPU ms/frame\tdecode median ms\tp99 ms\tbytes/frame\traw ÷ stored\tPNG ÷ stored\t", func(tw *tabwriter.Writer) {
				for _, r := range rows {
					png := "–"
					if r.PNGBytes > 0 {
						png = fmt.Sprintf("%.1f", r.PNGBytes/r.BytesPerFrame)
					}
					fmt.Fprintf(tw, "%s\t%dx%d\t%s\t%d\t%.2f\t%.2f\t%.0f\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f\t%s\t\n", r.Source, r.Width, r.Height, r.Codec, r.Frames,
						bench.MS(r.Encode.Median), bench.MS(r.Encode.P99), r.EncodeMBps, bench.MS(r.CPUPerFrame),
						bench.MS(r.Decode.Median), bench.MS(r.Decode.P99), r.BytesPerFrame, float64(r.RawBytesPerFrm)/r.BytesPerFrame, png)
				}
			})
		},
	}
	cmd.Flags().StringVar(&sizes, "size", "1280x720,1920x1080", "frame sizes of the synthetic scene, `WxH[,WxH…]`")
	cmd.Flags().StringVar(&codecs, "codec", "zstd,s2", "codecs, comma-separated")
	cmd.Flags().IntVar(&frames, "frames", 240, "frames per run")
	cmd.Flags().IntVar(&keyInterval, "key-interval", 60, "a key frame every `N` frames (the capture default)")
	cmd.Flags().StringVar(&session, "session", "", "encode the frames of this recorded SESSION instead of the synthetic scene")
	cmd.Flags().StringVar(&sink, "sink", "", "with --session: read from this sink")
	return cmd
}

// benchSource is the frames of one encode benchmark row.
type benchSource struct {
	name   string
	w, h   int
	frames func() bench.Frames
}

// sessionFrames returns a bench source that decodes up to n frames of a
// recorded session; the frames are decoded once, up front, so that the
// encode timings do not include reading.
func (a *app) sessionFrames(ctx context.Context, sinkName, ref string, n int) (benchSource, error) {
	sess, st, sinks, err := a.findSession(ctx, sinkName, ref)
	if err != nil {
		return benchSource{}, err
	}
	defer closeSinks(sinks)
	sum, err := sess.Summarize(ctx, st)
	if err != nil {
		return benchSource{}, err
	}
	fr := recordings.NewFrameReader(st, sess, sum)
	defer fr.Close()
	if len(sum.Index) == 0 {
		return benchSource{}, fmt.Errorf("session %s has no frames", sess.Ref())
	}
	last := sum.Index[min(n, len(sum.Index))-1].Seq // decode only the frames used
	var pix [][]byte
	err = fr.Each(ctx, 0, last, func(f segment.Frame) error {
		pix = append(pix, append([]byte(nil), f.Image.Pix...))
		return nil
	})
	if err != nil {
		return benchSource{}, err
	}
	if len(pix) < 2 {
		return benchSource{}, fmt.Errorf("session %s has %d frames: too few to measure", sess.Ref(), len(pix))
	}
	return benchSource{name: sess.ID, w: sum.Width, h: sum.Height, frames: func() bench.Frames {
		i := 0
		return func() ([]byte, error) {
			if i >= len(pix) {
				return nil, io.EOF
			}
			i++
			return pix[i-1], nil
		}
	}}, nil
}

func newBenchTransportCmd(a *app, asJSON *bool) *cobra.Command {
	var sizes, pluginPath string
	var sets []string
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "transport",
		Short: "Put throughput to a plugin process: shared memory against the gRPC stream",
		Long: `transport launches a plugin twice, once with the shared-memory data plane and
once with the gRPC stream only, and Puts objects of each --size to it back to
back. By default the plugin is this binary in a hidden mode that reads every
byte and keeps nothing, so the numbers are the transport's; --plugin PATH
(with --set key=value) measures a real plugin, storage included.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ss []int
			for _, s := range strings.Split(sizes, ",") {
				n, err := humanize.ParseBytes(strings.TrimSpace(s))
				if err != nil || n < 1 || n > 1<<30 {
					return usageError("--size %q: want sizes like 256KiB,1MiB,8MiB (1 byte to 1 GiB)", s)
				}
				ss = append(ss, int(n))
			}
			if duration <= 0 {
				return usageError("--duration %s: want a positive duration like 2s", duration)
			}
			opts := bench.TransportOptions{Sizes: ss, Duration: duration, Name: "discard (this binary)"}
			if pluginPath == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				opts.Launch = sdk.LaunchOptions{Path: exe, Args: []string{benchPluginCmd}}
			} else {
				settings, err := parseSets(sets)
				if err != nil {
					return err
				}
				opts.Name = filepath.Base(pluginPath)
				opts.Launch = sdk.LaunchOptions{Path: pluginPath, Settings: settings}
			}
			if a.verbose {
				opts.Launch.Stderr = a.stderr
			}
			rows, err := bench.Transport(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return a.report(*asJSON, rows, "plugin\tpath\tsize\tputs\tput median ms\tp99 ms\tMB/s\thost CPU ms/MB\tplugin CPU ms/MB\t", func(tw *tabwriter.Writer) {
				for _, r := range rows {
					plug := "–"
					if r.PluginCPU >= 0 {
						plug = fmt.Sprintf("%.2f", r.PluginCPU)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f\t%.3f\t%.0f\t%.2f\t%s\t\n", r.Plugin, r.Mode, humanize.IBytes(uint64(r.Size)), r.Puts,
						bench.MS(r.Put.Median), bench.MS(r.Put.P99), r.MBps, r.HostCPUMB, plug)
				}
			})
		},
	}
	cmd.Flags().StringVar(&sizes, "size", "256KiB,1MiB,8MiB", "object sizes, comma-separated")
	cmd.Flags().DurationVar(&duration, "duration", 2*time.Second, "measuring time per size and path")
	cmd.Flags().StringVar(&pluginPath, "plugin", "", "plugin binary to measure (default: a discarding plugin, this binary)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "plugin setting `key=value` (repeatable)")
	return cmd
}

func newBenchCaptureCmd(a *app, asJSON *bool) *cobra.Command {
	o := bench.CaptureOptions{}
	var sizes string
	var scenes []string
	cmd := &cobra.Command{
		Use:   "capture (--game PATH | --scene NAME[:WxH],…)",
		Short: "A game's frame rate with capture off and on (needs a display; records to a temporary disk sink)",
		Long: `capture runs a game built on the engine (e.g. bin/breakout) with -autoplay
-lockstep -vsync=false for --frames frames at each --size, once with capture
off and once recording to a temporary disk sink, and reads the statistics the
game writes with -bench-json. It needs a display (or Xvfb) and the disk plugin
(skyloop-plugin-disk beside this binary, beside the game, or in plugin_dir).

--scene names built-in sample games instead: rects (200 alpha-blended
rectangles bouncing over the whole screen, the hard case for capture),
breakout, arena; each as NAME (at every --size) or NAME:WxH. The binary is
bin/NAME beside this binary or under the current directory, or is built
there from ./games/NAME when run in the skyloop module. The capture goals
of docs/benchmarks.md in one command:

  skyloop bench capture --runs 3 --scene breakout:1280x720,rects:1280x720,rects:1920x1080,arena:1280x720

With --runs N every case runs N times, off and on interleaved, and each row
is the median; on ÷ off is of the medians. Every run starts alike: an empty
sink and spool (the games' saves included) and the previous run's writes
flushed (sync). CPU ms/frame is the game
process's CPU time per frame; capture CPU is the "on" row's less the "off"
row's: what recording costs the machine per frame, encoders included.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Game == "" && len(scenes) == 0 {
				return usageError("bench capture needs --game PATH (a game binary built on the engine, e.g. bin/breakout) or --scene NAME (rects, breakout, arena)")
			}
			if o.Game != "" {
				if _, err := os.Stat(o.Game); err != nil {
					return usageError("--game: %v", err)
				}
			}
			dims, err := parseSizes("size", sizes)
			if err != nil {
				return err
			}
			o.Sizes = nil
			for _, d := range dims {
				o.Sizes = append(o.Sizes, fmt.Sprintf("%dx%d", d[0], d[1]))
			}
			if o.Frames < 10 {
				return usageError("--frames %d: want at least 10", o.Frames)
			}
			if o.Runs < 1 {
				return usageError("--runs %d: want at least 1", o.Runs)
			}
			work, err := os.MkdirTemp("", "skyloop-bench-capture-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(work)
			o.WorkDir = work
			o.Log = func(format string, args ...any) { fmt.Fprintf(a.stderr, format+"\n", args...) }
			o.Cases = nil
			for _, sc := range scenes {
				name, size, hasSize := strings.Cut(strings.TrimSpace(sc), ":")
				caseSizes := o.Sizes
				if hasSize {
					d, err := parseSizes("scene", size)
					if err != nil || len(d) != 1 {
						return usageError("--scene %q: want NAME or NAME:WxH", sc)
					}
					caseSizes = []string{fmt.Sprintf("%dx%d", d[0][0], d[0][1])}
				}
				bin, err := a.sceneBinary(cmd.Context(), name, work)
				if err != nil {
					return err
				}
				for _, sz := range caseSizes {
					o.Cases = append(o.Cases, bench.CaptureCase{Game: bin, Size: sz})
				}
			}
			first := o.Game
			if first == "" {
				first = o.Cases[0].Game
			}
			plugin, err := a.findDiskPlugin(first)
			if err != nil && first != o.Game {
				plugin, err = a.findDiskPlugin(filepath.Join("bin", "x"))
			}
			if err != nil {
				return err
			}
			o.PluginDir = filepath.Dir(plugin)
			rows, err := bench.Capture(cmd.Context(), o)
			if err != nil {
				return err
			}
			return a.report(*asJSON, rows, "game\tsize\tcapture\truns\tfps\ton ÷ off\tframe median ms\tp99 ms\tcapture median ms\tp99 ms\tencode ms/frame\tCPU ms/frame\tcapture CPU ms/frame\tcaptured\tdropped\tbytes/frame\teffort\t", func(tw *tabwriter.Writer) {
				for _, r := range rows {
					s := r.Stats
					if r.Capture == "off" {
						fmt.Fprintf(tw, "%s\t%s\toff\t%d\t%.1f\t\t%.2f\t%.2f\t–\t–\t–\t%.2f\t–\t–\t–\t–\t–\t\n", r.Game, r.Size, r.Runs, s.FPS, s.FrameMedianMS, s.FrameP99MS, r.CPUMSPerFrame)
						continue
					}
					bpf := 0.0
					if s.FramesEncoded > 0 {
						bpf = float64(s.StoredBytes) / float64(s.FramesEncoded)
					}
					eff := r.Effort
					if eff == "" {
						eff = "–"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.3f\t%.3f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%.0f\t%s\t\n", r.Game, r.Size, r.Capture, r.Runs, s.FPS, r.OnOff,
						s.FrameMedianMS, s.FrameP99MS, s.CaptureMedianMS, s.CaptureP99MS, s.EncodeMSPerFrame, r.CPUMSPerFrame, r.CaptureCPUMSPerFrame, s.FramesCaptured, r.Dropped, bpf, eff)
				}
			})
		},
	}
	cmd.Flags().StringVar(&o.Game, "game", "", "game binary built on the engine (e.g. bin/breakout)")
	cmd.Flags().StringSliceVar(&scenes, "scene", nil, "built-in sample games `NAME[:WxH],…`: rects, breakout, arena (bin/NAME, built from ./games/NAME if missing)")
	cmd.Flags().StringVar(&sizes, "size", "1280x720,1920x1080", "window sizes, `WxH[,WxH…]`")
	cmd.Flags().IntVar(&o.Frames, "frames", 600, "frames per run")
	cmd.Flags().IntVar(&o.Runs, "runs", 1, "runs of each case, off and on interleaved; rows are medians")
	cmd.Flags().StringVar(&o.Codec, "codec", "zstd", "capture codec: zstd | s2")
	cmd.Flags().StringVar(&o.Readback, "readback", "auto", "readback: auto | pbo | sync")
	cmd.Flags().StringVar(&o.Source, "source", "screen", "what to record: screen (the game's logical screen, the engine's default) | window (what the player sees)")
	return cmd
}

// benchScenes are the sample games --scene knows.
var benchScenes = []string{"rects", "breakout", "arena"}

// sceneBinary finds the binary of a built-in sample game: bin/NAME beside
// this binary, then under the current directory; failing both, in the
// skyloop module's root, it builds ./games/NAME into bin/ (into work when
// bin/ cannot be written).
func (a *app) sceneBinary(ctx context.Context, name, work string) (string, error) {
	if strings.ContainsRune(name, filepath.Separator) {
		// A path: a build of a sample game elsewhere (say, before and after
		// a change, side by side in one run).
		if _, err := os.Stat(name); err != nil {
			return "", usageError("--scene %q: %v", name, err)
		}
		return name, nil
	}
	if !slices.Contains(benchScenes, name) {
		return "", usageError("--scene %q: want one of %s", name, strings.Join(benchScenes, ", "))
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	dirs = append(dirs, "bin")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if _, err := os.Stat(filepath.Join("games", name, "main.go")); err != nil {
		return "", fmt.Errorf("--scene %s: no bin/%s beside this binary or here, and no ./games/%s to build it from: run make build, or run this in the skyloop module", name, name, name)
	}
	out := filepath.Join("bin", name)
	if err := os.MkdirAll("bin", 0o755); err != nil {
		out = filepath.Join(work, name)
	}
	fmt.Fprintf(a.stderr, "building %s from ./games/%s …\n", out, name)
	build := exec.CommandContext(ctx, "go", "build", "-o", out, "./games/"+name)
	build.Stdout, build.Stderr = a.stderr, a.stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("--scene %s: go build ./games/%s: %w", name, name, err)
	}
	return out, nil
}

// findDiskPlugin finds skyloop-plugin-disk as the games do, also beside the
// game binary.
func (a *app) findDiskPlugin(game string) (string, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return "", err
	}
	return skysync.FindPlugin("disk", filepath.Dir(game), cfg.PluginDir)
}

// benchPluginCmd is the hidden subcommand that makes this binary the
// discarding plugin of `bench transport`.
const benchPluginCmd = "bench-plugin"

func newBenchPluginCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    benchPluginCmd,
		Hidden: true,
		Short:  "serve the discarding storage plugin of 'skyloop bench transport' (started by it, not by hand)",
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sdk.Serve(bench.DiscardPlugin())
			return nil
		},
	}
}

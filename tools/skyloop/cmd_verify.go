package main

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newVerifyCmd) }

func newVerifyCmd(a *app) *cobra.Command {
	var sink string
	var allowUnended bool
	cmd := &cobra.Command{
		Use:   "verify SESSION",
		Short: "Decode every frame of a session, check CRCs and continuity; exit 0 only when complete",
		Long: `verify fetches every segment of the session, decodes every frame (checking
every CRC), checks that every segment is this session's (the session start
its header carries against the session's id, and its segment number against
its key) and that segment numbers and frame numbers run on without a hole.
Every gap is listed with its reason: dropped (by the game while recording)
or damage: missing, foreign, misnumbered, zero-length, truncated, crc,
corrupt or version. It exits 0 only when every frame from the first to the last is
present and decodes, and the session's end record (written when the
recording ended) vouches that nothing is missing at the end; otherwise it
lists the gaps and the damage and exits 1. A session without its end record
(still recording, or the game crashed or was killed) passes only with
--allow-unended, and then only vouches for the frames it has.

SESSION is GAME/PLAYER/SESSION as 'skyloop sessions' prints it, the SESSION
id alone, or a unique prefix of either.`,
		Args: exactArgs(1, "SESSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sess, st, sinks, err := a.findSession(ctx, sink, args[0])
			if err != nil {
				return err
			}
			defer closeSinks(sinks)
			bar := newProgress(a.stderr, len(sess.Segments), "verifying "+sess.Ref())
			rep, err := recordings.Verify(ctx, st, sess, func(done, total int) { bar.Set(done) })
			bar.Finish()
			if err != nil {
				return fmt.Errorf("verify %s in sink %s: %w", sess.Ref(), st.Name(), err)
			}
			out := a.stdout
			fmt.Fprintf(out, "session %s (sink %s): %d segments, %d frames decoded, %dx%d, frames 0-%d\n",
				sess.Ref(), st.Name(), rep.Segments, rep.Frames, rep.Width, rep.Height, rep.LastSeq)
			for _, m := range rep.MissingSegments {
				fmt.Fprintf(out, "missing segment: %d\n", m)
			}
			for _, g := range rep.Gaps {
				fmt.Fprintf(out, "gap: %s (%d frames): %s\n", g, g.Frames(), g.Reason())
			}
			for _, p := range rep.Problems {
				fmt.Fprintf(out, "damaged (%s): %s\n", p.Kind, p)
			}
			if m := rep.Manifest; m != nil {
				fmt.Fprintf(out, "ended: %s, after %d frames in %d segments", m.End.Local().Format("2006-01-02 15:04:05"), m.Sequenced, m.Segments)
				if m.Dropped > 0 {
					fmt.Fprintf(out, "; %d frames were dropped while recording (the game outran the encoder: see capture.drop)", m.Dropped)
				}
				if len(m.Lost) > 0 {
					fmt.Fprintf(out, "; %d frames in %d segments were lost before any sink had them (%s)", m.LostFrames(), len(m.Lost), m.Lost[0].Reason)
				}
				fmt.Fprintln(out)
			} else {
				fmt.Fprintln(out, "end record missing: the recording did not end cleanly (still recording, or the game crashed or was killed), so segments lost at its end cannot be detected")
				if c := rep.CutShort; c != nil {
					fmt.Fprintf(out, "last segment cut short: %s (the game stopped while writing it; every frame before the cut decodes)\n", path.Base(c.Key))
				}
			}
			if rep.Complete() || (allowUnended && rep.Intact()) {
				fmt.Fprintln(out, "complete: every frame is present and decodes")
				return nil
			}
			if rep.Intact() {
				return &exitError{code: 1, err: errors.New("incomplete: no end record (pass --allow-unended to accept the frames there are)")}
			}
			why := fmt.Sprintf("%d gaps, %d missing segments, %d problems", len(rep.Gaps), len(rep.MissingSegments), len(rep.Problems))
			if kinds := recordings.DamageKinds(rep.Problems, rep.Gaps); len(kinds) > 0 {
				why += fmt.Sprintf(" (damage found: %s)", joinKinds(kinds))
			}
			if rep.Frames == 0 {
				why = "no frame decodes"
			}
			return &exitError{code: 1, err: errors.New("incomplete: " + why)}
		},
	}
	cmd.Flags().StringVar(&sink, "sink", "", "read from this sink only (its name in the config)")
	cmd.Flags().BoolVar(&allowUnended, "allow-unended", false, "accept a session without its end record when every frame it has decodes")
	return cmd
}

func joinKinds(kinds []recordings.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// exactArgs is cobra.ExactArgs with a usage error that names the argument.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("%s wants %s, got %d arguments (see '%s --help')", cmd.CommandPath(), names, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// noArgs is cobra.NoArgs with a usage error (exit 2), like exactArgs.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("%s takes no arguments, got %q (see '%s --help')", cmd.CommandPath(), strings.Join(args, " "), cmd.CommandPath())
	}
	return nil
}

package main

import (
	"errors"
	"fmt"

	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newVerifyCmd) }

func newVerifyCmd(a *app) *cobra.Command {
	var sink string
	cmd := &cobra.Command{
		Use:   "verify SESSION",
		Short: "Decode every frame of a session, check CRCs and continuity; exit 0 only when complete",
		Long: `verify fetches every segment of the session, decodes every frame (checking
every CRC) and checks that segment numbers and frame numbers run on without
a hole. It exits 0 only when every frame from the first to the last is
present and decodes; otherwise it lists the gaps and the damage and exits 1.

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
				fmt.Fprintf(out, "gap: %s (%d frames)\n", g, g.Frames())
			}
			for _, p := range rep.Problems {
				fmt.Fprintf(out, "damaged: %s\n", p)
			}
			if rep.Complete() {
				fmt.Fprintln(out, "complete: every frame is present and decodes")
				return nil
			}
			why := fmt.Sprintf("%d gaps, %d missing segments, %d problems", len(rep.Gaps), len(rep.MissingSegments), len(rep.Problems))
			if rep.Frames == 0 {
				why = "no frame decodes"
			}
			return &exitError{code: 1, err: errors.New("incomplete: " + why)}
		},
	}
	cmd.Flags().StringVar(&sink, "sink", "", "read from this sink only (its name in the config)")
	return cmd
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

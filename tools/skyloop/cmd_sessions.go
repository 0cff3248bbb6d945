package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

func init() { commands = append(commands, newSessionsCmd) }

// sessionRow is one line of `skyloop sessions` (and its --json form).
type sessionRow = recordings.Row

func newSessionsCmd(a *app) *cobra.Command {
	var sink, game string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List recorded sessions in every sink (game, player, start, duration, frames, gaps, bytes)",
		Long: `sessions lists the recorded sessions of every sink (or --sink). An
ended session is described by its player's catalog or its end record, so
a listing costs the sink's List pages and a Get per catalog, not reads of
every session; a session without an end record is described from its
segments' headers and indexes. STATE is "ended", "LIVE" (no end record
yet and written to within the last 15 s, or three segment intervals:
still recording) or "not ended" (the recording stopped without its end
record: the game crashed or was killed); an instant-replay clip saved
by the player is "clip". GAPS counts the missing frames and,
when the listing found damage, says "damage found" with its kinds
(missing, foreign, misnumbered, zero-length, truncated, ...): a segment of
another session, one stored under another number, an empty or cut-short
one. A payload whose CRC fails is found only by reading it: run
'skyloop verify SESSION' for the full check.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sinks, err := a.openSinks(ctx, sink)
			if err != nil {
				return err
			}
			defer closeSinks(sinks)
			prefix := ""
			if game != "" {
				prefix = game + "/"
			}
			all, err := listSessions(ctx, sinks, prefix)
			if err != nil {
				return err
			}
			rows, err := describeSessions(ctx, all, time.Now())
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.stdout, "no recorded sessions in sink(s) %s\n", sinkNames(sinks))
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SESSION\tSINK\tSTART\tDURATION\tFRAMES\tGAPS\tSTATE\tSIZE\tBYTES")
			for _, r := range rows {
				gaps := fmt.Sprint(r.GapFrames)
				if r.DamageFound() {
					gaps += fmt.Sprintf(" (damage found: %s)", joinKinds(r.Damage))
				} else if r.Problems > 0 {
					gaps += fmt.Sprintf(" (+%d damaged segments)", r.Problems)
				}
				ended := "ended"
				switch {
				case r.Replay && r.Ended:
					ended = "clip"
				case r.Live:
					ended = "LIVE"
				case !r.Ended:
					ended = "not ended"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%dx%d\t%s\n", r.Session, r.Sink, r.Start.Local().Format("2006-01-02 15:04:05"),
					time.Duration(r.Duration*float64(time.Second)).Round(10*time.Millisecond), r.Frames, gaps, ended, r.Width, r.Height, humanize.IBytes(uint64(r.Bytes)))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&sink, "sink", "", "only this sink (its name in the config)")
	cmd.Flags().StringVar(&game, "game", "", "only this game")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// describeSessions describes every listed session, a few at a time: most
// ended ones cost no request (their catalog entry), the rest a Get or a
// summary.
func describeSessions(ctx context.Context, all []sinkSessions, now time.Time) ([]sessionRow, error) {
	var rows []sessionRow
	for _, ss := range all {
		r, err := describeStore(ctx, ss.sink, ss.sink.Name(), ss.sessions, now)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// describeStore describes the sessions listed from one sink.
func describeStore(ctx context.Context, st recordings.Store, sink string, sessions []*recordings.Session, now time.Time) ([]sessionRow, error) {
	d := recordings.NewDescriber(st, now)
	rows := make([]sessionRow, len(sessions))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, sess := range sessions {
		g.Go(func() error {
			r, err := d.Describe(gctx, sess)
			if err != nil {
				return fmt.Errorf("%s in sink %s: %w", sess.Ref(), sink, err)
			}
			rows[i] = r
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rows, nil
}

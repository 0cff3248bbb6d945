package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newSessionsCmd) }

// sessionRow is one line of `skyloop sessions` (and its --json form).
type sessionRow struct {
	Session   string    `json:"session"` // GAME/PLAYER/SESSION
	Sink      string    `json:"sink"`
	Game      string    `json:"game"`
	Player    string    `json:"player"`
	ID        string    `json:"id"`
	Start     time.Time `json:"start"`
	Duration  float64   `json:"duration_seconds"`
	Frames    int       `json:"frames"`
	GapFrames uint64    `json:"gap_frames"`
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	Segments  int       `json:"segments"`
	Bytes     int64     `json:"bytes"`
	Problems  int       `json:"problems"` // unreadable segment headers or indexes
	Ended     bool      `json:"ended"`    // the session's end record is there
}

func newSessionsCmd(a *app) *cobra.Command {
	var sink, game string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List recorded sessions in every sink (game, player, start, duration, frames, gaps, bytes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sinks, err := a.openSinks(ctx, sink)
			if err != nil {
				return err
			}
			defer closeSinks(sinks)
			var rows []sessionRow
			for _, s := range sinks {
				prefix := ""
				if game != "" {
					prefix = game + "/"
				}
				ss, err := recordings.List(ctx, s, s.Name(), prefix)
				if err != nil {
					return err
				}
				for _, sess := range ss {
					sum, err := sess.Summarize(ctx, s)
					if err != nil {
						return fmt.Errorf("%s in sink %s: %w", sess.Ref(), s.Name(), err)
					}
					rows = append(rows, rowOf(sess, sum))
				}
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if rows == nil {
					rows = []sessionRow{}
				}
				return enc.Encode(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.stdout, "no recorded sessions in sink(s) %s\n", sinkNames(sinks))
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SESSION\tSINK\tSTART\tDURATION\tFRAMES\tGAPS\tENDED\tSIZE\tBYTES")
			for _, r := range rows {
				gaps := fmt.Sprint(r.GapFrames)
				if r.Problems > 0 {
					gaps += fmt.Sprintf(" (+%d damaged segments)", r.Problems)
				}
				ended := "yes"
				if !r.Ended {
					ended = "no"
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

func rowOf(s *recordings.Session, sum recordings.Summary) sessionRow {
	start := sum.SessionStart
	if start.IsZero() {
		start = sum.Start
	}
	return sessionRow{
		Session: s.Ref(), Sink: s.Sink, Game: s.Game, Player: s.Player, ID: s.ID,
		Start: start, Duration: sum.Duration().Seconds(), Frames: sum.Frames, GapFrames: sum.GapFrames(),
		Width: sum.Width, Height: sum.Height, Segments: len(s.Segments), Bytes: s.Bytes,
		Problems: len(sum.Problems) + len(sum.MissingSegments), Ended: sum.Ended(),
	}
}

package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newDeleteCmd) }

func newDeleteCmd(a *app) *cobra.Command {
	var sink string
	var yes, dryRun bool
	cmd := &cobra.Command{
		Use:   "delete SESSION...",
		Short: "Delete recorded sessions (segments and end record) from every sink that holds them",
		Long: `delete removes every object of each named session — its segments and its end
record (session.json), everything under GAME/PLAYER/sessions/SESSION/ — from
every sink that holds it, or from --sink NAME only, through the sink's
plugin. Saves are never touched.

It lists what it will delete and asks "delete N sessions (X MB) from sink
S? [y/N]" for each sink. Without a terminal to ask on it refuses unless
--yes is given; --dry-run lists what would go and deletes nothing.

SESSION is GAME/PLAYER/SESSION as 'skyloop sessions' prints it, the SESSION
id alone, or a unique prefix of either; a prefix that matches several
sessions is an error that lists them.

Exit status: 0 when every session named was deleted (or, with --dry-run,
found), 1 when a session is not found, a question is answered no or a
delete fails, 2 for bad usage.`,
		Example: `  skyloop delete 20261124T2015
  skyloop delete breakout/alice/20261124T201500.123Z-3f2a --sink cloud --yes
  skyloop delete 20261124T20 20261125 --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("%s wants one or more SESSION arguments (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())
			}
			if !yes && !dryRun && !canAsk() {
				return errNoConfirm("delete")
			}
			ctx := cmd.Context()
			sinks, err := a.openSinks(ctx, sink)
			if err != nil {
				return err
			}
			defer closeSinks(sinks)

			// Every session of every sink; a session is one name
			// (GAME/PLAYER/SESSION) whichever sinks hold it.
			seen := map[string]bool{}
			perSink := make([][]*recordings.Session, len(sinks))
			var union []*recordings.Session
			for i, s := range sinks {
				ss, err := recordings.List(ctx, s, s.Name(), "")
				if err != nil {
					return err
				}
				perSink[i] = ss
				for _, sess := range ss {
					if !seen[sess.Ref()] {
						seen[sess.Ref()] = true
						union = append(union, sess)
					}
				}
			}
			chosen := map[string]bool{}
			for _, ref := range args {
				sess, err := recordings.Find(union, ref)
				if err != nil {
					if errors.Is(err, recordings.ErrNoSession) {
						err = fmt.Errorf("%w (looked in sink(s) %s); nothing deleted", err, sinkNames(sinks))
					} else {
						err = fmt.Errorf("%w; nothing deleted", err)
					}
					return &exitError{code: 1, err: err}
				}
				chosen[sess.Ref()] = true
			}

			now := time.Now()
			in := bufio.NewReader(stdin)
			var failed []string
			for i, s := range sinks {
				var ages []recordings.Age
				var bytes int64
				for _, sess := range perSink[i] {
					if !chosen[sess.Ref()] {
						continue
					}
					age, err := recordings.AgeOf(ctx, s, sess)
					if err != nil {
						return fmt.Errorf("sink %s: %s: %w", s.Name(), sess.Ref(), err)
					}
					ages = append(ages, age)
					bytes += age.Bytes
				}
				if len(ages) == 0 {
					continue
				}
				what := fmt.Sprintf("%s (%s) from sink %s", plural(len(ages), "session", "sessions"), sizeOf(bytes), s.Name())
				verb := "delete"
				if dryRun {
					verb = "would delete"
				}
				fmt.Fprintf(a.stdout, "sink %s: %s %s:\n", s.Name(), verb, plural(len(ages), "session", "sessions"))
				for _, age := range ages {
					fmt.Fprintf(a.stdout, "  %s\n", sessionLine(age))
					if age.Recording(now, recordingGrace) {
						fmt.Fprintf(a.stdout, "    (no end record and written %s ago: it may still be recording)\n", recordings.FormatAge(now.Sub(age.Session.Modified)))
					}
				}
				if dryRun {
					continue
				}
				if !yes && !a.confirm(in, "delete "+what+"?") {
					failed = append(failed, "not confirmed: nothing deleted from sink "+s.Name())
					continue
				}
				var freed int64
				n := 0
				for _, age := range ages {
					d, err := recordings.Delete(ctx, s, age.Session)
					freed += d.Bytes
					if err != nil {
						failed = append(failed, fmt.Sprintf("sink %s: %s: %v", s.Name(), age.Session.Ref(), err))
						continue
					}
					n++
				}
				fmt.Fprintf(a.stdout, "deleted %s from sink %s: freed %s\n", plural(n, "session", "sessions"), s.Name(), sizeOf(freed))
			}
			if len(failed) > 0 {
				return &exitError{code: 1, err: errors.New(strings.Join(failed, "\nskyloop: "))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sink, "sink", "", "delete from this sink only (its name in the config); default: every sink that holds the session")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "list what would be deleted; delete nothing")
	return cmd
}

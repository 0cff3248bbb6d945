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

func init() { commands = append(commands, newPruneCmd) }

func newPruneCmd(a *app) *cobra.Command {
	var sink, game, olderThan, maxSize string
	var keep int
	var yes, dryRun bool
	cmd := &cobra.Command{
		Use:   "prune --older-than DURATION | --keep N | --max-size SIZE",
		Short: "Delete old recorded sessions by age, by number kept or by total size",
		Long: `prune deletes recorded sessions from every sink (or --sink NAME only, and of
--game G only) by any combination of:

  --older-than D  sessions last written longer than D ago (the end record's
                  time; for a session without one, the newest object's):
                  90m, 36h, 30d, 2w, 1w3d
  --keep N        all but the N newest sessions (by start time) of each game
                  and player
  --max-size S    the oldest sessions, until what is left takes at most S
                  in the sink: 500MB, 2GiB (1 GB = 1000³ bytes, 1 GiB = 1024³)

A session is deleted when any of them picks it, and --max-size counts what
the other two leave. Each sink is pruned on its own (--max-size is per sink).
Saves are never touched.

A session that is still being recorded is never deleted: one without an end
record (session.json) that was written to less than 5 minutes ago is kept
and listed as skipped.

prune lists what it will delete and why, asks "delete N sessions (X MB) from
sink S? [y/N]" for each sink, deletes, and says what it freed and kept.
Without a terminal to ask on it refuses unless --yes is given; --dry-run
lists what would go and deletes nothing.

Exit status: 0 on success (also when there was nothing to delete), 1 when a
question is answered no or a delete fails, 2 for bad usage.`,
		Example: `  skyloop prune --older-than 30d
  skyloop prune --keep 10 --game breakout --dry-run
  skyloop prune --max-size 2GiB --sink local --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			rules := recordings.PruneRules{Keep: -1, MaxBytes: -1, Grace: recordingGrace}
			if !f.Changed("older-than") && !f.Changed("keep") && !f.Changed("max-size") {
				return usageError("prune needs at least one of --older-than DURATION, --keep N, --max-size SIZE (see '%s --help')", cmd.CommandPath())
			}
			if f.Changed("older-than") {
				d, err := parseAge(olderThan)
				if err != nil {
					return usageError("--older-than %q: %v", olderThan, err)
				}
				rules.OlderThan = d
			}
			if f.Changed("keep") {
				if keep < 0 {
					return usageError("--keep %d: want 0 or more sessions to keep", keep)
				}
				rules.Keep = keep
			}
			if f.Changed("max-size") {
				n, err := parseSize(maxSize)
				if err != nil {
					return usageError("--max-size %q: %v", maxSize, err)
				}
				rules.MaxBytes = n
			}
			if strings.Contains(game, "/") {
				return usageError("--game %q: a game name has no '/'", game)
			}
			if !yes && !dryRun && !canAsk() {
				return errNoConfirm("prune")
			}
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
			in := bufio.NewReader(stdin)
			var failed []string
			for _, s := range sinks {
				ss, err := recordings.List(ctx, s, s.Name(), prefix)
				if err != nil {
					return err
				}
				ages := make([]recordings.Age, 0, len(ss))
				for _, sess := range ss {
					age, err := recordings.AgeOf(ctx, s, sess)
					if err != nil {
						return fmt.Errorf("sink %s: %s: %w", s.Name(), sess.Ref(), err)
					}
					ages = append(ages, age)
				}
				rules.Now = time.Now()
				plan := recordings.Plan(ages, rules)
				out := a.stdout
				fmt.Fprintf(out, "sink %s: %s (%s)", s.Name(), plural(len(ages), "session", "sessions"), sizeOf(plan.TotalBytes))
				if game != "" {
					fmt.Fprintf(out, " of game %s", game)
				}
				fmt.Fprintln(out)
				verb := "delete"
				if dryRun {
					verb = "would delete"
				}
				for _, c := range plan.Delete {
					fmt.Fprintf(out, "  %s %s: %s\n", verb, sessionLine(c.Age), strings.Join(c.Why, "; "))
				}
				for _, c := range plan.Skipped {
					fmt.Fprintf(out, "  skipped %s: %s (picked: %s)\n", sessionLine(c.Age), c.Skip, strings.Join(c.Why, "; "))
				}
				kept := fmt.Sprintf("%s (%s)", plural(len(plan.Kept), "session", "sessions"), sizeOf(plan.KeptBytes))
				if plan.OverBy > 0 {
					fmt.Fprintf(out, "  note: what is left stays %s over --max-size %s: the rest is still recording\n", sizeOf(plan.OverBy), sizeOf(rules.MaxBytes))
				}
				if len(plan.Delete) == 0 {
					fmt.Fprintf(out, "sink %s: nothing to delete; kept %s\n", s.Name(), kept)
					continue
				}
				what := fmt.Sprintf("%s (%s) from sink %s", plural(len(plan.Delete), "session", "sessions"), sizeOf(plan.DeleteBytes()), s.Name())
				if dryRun {
					fmt.Fprintf(out, "sink %s: would delete %s, freeing %s; would keep %s\n", s.Name(), plural(len(plan.Delete), "session", "sessions"), sizeOf(plan.DeleteBytes()), kept)
					continue
				}
				if !yes && !a.confirm(in, "delete "+what+"?") {
					failed = append(failed, "not confirmed: nothing deleted from sink "+s.Name())
					continue
				}
				var freed int64
				n := 0
				for _, c := range plan.Delete {
					d, err := recordings.Delete(ctx, s, c.Session)
					freed += d.Bytes
					if err != nil {
						failed = append(failed, fmt.Sprintf("sink %s: %s: %v", s.Name(), c.Session.Ref(), err))
						continue
					}
					n++
				}
				fmt.Fprintf(out, "sink %s: deleted %s, freed %s; kept %s\n", s.Name(), plural(n, "session", "sessions"), sizeOf(freed), kept)
			}
			if len(failed) > 0 {
				return &exitError{code: 1, err: errors.New(strings.Join(failed, "\nskyloop: "))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&olderThan, "older-than", "", "delete sessions last written longer ago than `DURATION` (90m, 36h, 30d, 2w)")
	f.IntVar(&keep, "keep", 0, "keep the `N` newest sessions of each game and player, delete the others")
	f.StringVar(&maxSize, "max-size", "", "delete the oldest sessions until the rest takes at most `SIZE` per sink (500MB, 2GiB)")
	f.StringVar(&game, "game", "", "only sessions of this game")
	f.StringVar(&sink, "sink", "", "only this sink (its name in the config); default: every sink")
	f.BoolVarP(&yes, "yes", "y", false, "delete without asking")
	f.BoolVarP(&dryRun, "dry-run", "n", false, "list what would be deleted; delete nothing")
	return cmd
}

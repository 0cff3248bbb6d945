// Command skyloop is the tool for players and plugin authors: it lists,
// verifies, exports and replays recorded sessions from any sink, checks
// plugins against the conformance suite and prints benchmark tables.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a process exit status with a message already printed
// (or to print): verify's "incomplete" is 1, usage errors are 2.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status; tests call it
// in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "skyloop:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "skyloop:", err)
	if isUsageError(err) {
		return 2
	}
	return 1
}

// app is the state every subcommand shares: the global flags and the
// output streams.
type app struct {
	stdout, stderr io.Writer
	configPath     string
	verbose        bool
	logger         *slog.Logger
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "skyloop",
		Short: "Find, check, export and replay skyloop recordings; check storage plugins; benchmark",
		Long: `skyloop reads the same config file as the games: --config FILE, else the file
named by $SKYLOOP_CONFIG, else ~/.config/skyloop/config.toml
($XDG_CONFIG_HOME/skyloop/config.toml) when it exists, else the built-in
defaults (one disk sink, "local", under ~/.local/share/skyloop). It talks to
each sink through its plugin (skyloop-plugin-NAME beside this binary, in
plugin_dir or on PATH).

Exit status: 0 success, 1 failure, 2 bad usage (flags, arguments, config).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelWarn
			if a.verbose {
				level = slog.LevelDebug
			}
			a.logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "config `FILE` (TOML, the same file the games read); default: $SKYLOOP_CONFIG, else ~/.config/skyloop/config.toml when it exists, else built-in defaults")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log plugin and tool details to stderr")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: 2, err: fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())}
	})
	for _, add := range commands {
		root.AddCommand(add(a))
	}
	return root
}

// commands are the subcommands; each cmd_*.go file registers its own in an
// init function so that the files stay independent.
var commands []func(*app) *cobra.Command

// printJSON writes v to stdout as indented JSON (every --json flag).
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func isUsageError(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.code == 2
}

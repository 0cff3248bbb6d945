package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/conformance"
)

func init() { commands = append(commands, newPluginCmd) }

// newPluginCmd is `skyloop plugin check|describe`, for plugin authors.
func newPluginCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Check a storage plugin against the conformance suite, or describe it",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError("plugin: unknown subcommand %q (want check or describe)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError("plugin: missing subcommand (want check or describe; see 'skyloop plugin --help')")
		},
	}
	cmd.AddCommand(newPluginCheckCmd(a), newPluginDescribeCmd(a))
	return cmd
}

func onePath(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError("%s: want exactly one argument, the plugin binary's PATH (got %d)", cmd.CommandPath(), len(args))
	}
	return nil
}

type checkFlags struct {
	sets    []string
	sha256  string
	run     string
	skip    string
	timeout time.Duration
	scratch string
	json    bool
}

func newPluginCheckCmd(a *app) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check PATH [--set key=value …]",
		Short: "Run the sdk/synctest conformance suite against a plugin binary, one plugin process per check",
		Long: `check runs every check of the conformance suite (sdk/synctest) against the
plugin binary at PATH, out of process: each check launches the plugin afresh
with the --set settings, and one setting (--scratch) gets a unique value per
check so that each check starts on an empty backend: for the disk plugin
root=DIR becomes DIR/RUN/check-0007 (a temporary directory when root is not
set), for S3 prefix=P becomes P/RUN/check-0007.

Before the suite it checks that the running backend's Info agrees with
what -describe prints (Describe/Info) and, without a scratch setting, that
the backend starts empty (Backend/Empty).

It prints a table (check, result, time, reason) and a summary, or with
--json one JSON document (the plugin, every check with its status, time,
message and log, and the counts), and exits 0 when no check failed, 1
otherwise; the logs of failing checks go to stderr (of every check with
-v).`,
		Args: onePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.pluginCheck(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.sets, "set", nil, "plugin setting `key=value` (repeatable), as in [sink.settings]")
	fl.StringVar(&f.sha256, "sha256", "", "refuse the binary unless its SHA-256 is `HEX`")
	fl.StringVar(&f.run, "run", "", "only run the checks whose name matches `REGEXP` (e.g. 'IfMatch|Range/Head')")
	fl.StringVar(&f.skip, "skip", "", "leave out the checks whose name matches `REGEXP` (e.g. a backend's known limit: 'Concurrent/ReadDuringOverwrite')")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "bound on the whole run (0: none)")
	fl.StringVar(&f.scratch, "scratch", "", "`SETTING` that gets a unique suffix per check (default: prefix, else root, if the plugin declares it; empty: none)")
	fl.BoolVar(&f.json, "json", false, "print the results as JSON on stdout")
	return cmd
}

// parseSets turns repeated --set key=value into a settings map.
func parseSets(sets []string) (map[string]string, error) {
	m := map[string]string{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageError("--set %q: want the form key=value", s)
		}
		if _, dup := m[k]; dup {
			return nil, usageError("--set %q: setting %q given twice", s, k)
		}
		m[k] = v
	}
	return m, nil
}

// checkBinary says clearly what is wrong with a plugin path before anything
// tries to run it.
func checkBinary(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("plugin binary %s not found", path)
	case err != nil:
		return fmt.Errorf("plugin binary %s: %w", path, err)
	case fi.IsDir():
		return fmt.Errorf("plugin binary %s is a directory, not an executable", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("plugin binary %s is not executable (mode %v): chmod +x it", path, fi.Mode().Perm())
	}
	return nil
}

func verifySHA256(path, want string) error {
	want = strings.ToLower(strings.TrimSpace(want))
	if _, err := hex.DecodeString(want); err != nil || len(want) != 2*sha256.Size {
		return usageError("--sha256 %q: want %d hex digits", want, 2*sha256.Size)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("plugin binary %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("plugin binary %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("plugin binary %s: SHA-256 is %s, not the pinned %s", path, got, want)
	}
	return nil
}

// checkPattern compiles the --NAME regular expression of plugin check
// (nil when empty).
func checkPattern(name, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, usageError("--%s %q: %v", name, expr, err)
	}
	return re, nil
}

func (a *app) pluginCheck(cmd *cobra.Command, path string, f checkFlags) error {
	settings, err := parseSets(f.sets)
	if err != nil {
		return err
	}
	run, err := checkPattern("run", f.run)
	if err != nil {
		return err
	}
	skip, err := checkPattern("skip", f.skip)
	if err != nil {
		return err
	}
	if f.timeout < 0 {
		return usageError("--timeout %v: must not be negative", f.timeout)
	}
	if err := checkBinary(path); err != nil {
		return &exitError{code: 1, err: err}
	}
	if f.sha256 != "" {
		if err := verifySHA256(path, f.sha256); err != nil {
			return err
		}
	}
	ctx := cmd.Context()
	info, decl, err := sdk.Describe(ctx, path)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	declared := func(name string) bool {
		return slices.ContainsFunc(decl, func(s sdk.Setting) bool { return s.Name == name })
	}
	var names []string
	for _, s := range decl {
		names = append(names, s.Name)
	}

	scratch := f.scratch
	if !cmd.Flags().Changed("scratch") {
		switch {
		case declared("prefix"):
			scratch = "prefix"
		case declared("root"):
			scratch = "root"
		}
	} else if scratch != "" && !declared(scratch) {
		return usageError("--scratch %q: plugin %s declares no such setting (it declares: %s)", scratch, info.Name, strings.Join(names, ", "))
	}

	// The common case, `skyloop plugin check skyloop-plugin-disk`: a
	// required root that is not set becomes a temporary directory.
	for _, s := range decl {
		if s.Name == "root" && s.Required && settings["root"] == "" {
			dir, err := os.MkdirTemp("", "skyloop-plugin-check-*")
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("temporary root: %w", err)}
			}
			defer os.RemoveAll(dir)
			settings["root"] = dir
			fmt.Fprintf(a.stderr, "plugin check: root not set (--set root=DIR); using the temporary directory %s, removed afterwards\n", dir)
		}
	}
	if scratch == "root" && settings["root"] != "" {
		// A local root: make it now, so that the per-check directories
		// are made (and removed afterwards) under it.
		if err := os.MkdirAll(settings["root"], 0o755); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("root %s: %w", settings["root"], err)}
		}
	}
	if scratch == "" && len(decl) > 0 {
		fmt.Fprintf(a.stderr, "plugin check: note: no scratch setting (--scratch): each check starts a fresh plugin process, but they share its storage, which must start empty\n")
	}

	if !f.json {
		fmt.Fprintf(a.stdout, "plugin %s %s (%s), %d checks\n", info.Name, info.Version, path, len(conformance.Selected(run, skip)))
	}
	start := time.Now()
	opts := conformance.Options{
		Path: path, SHA256: f.sha256, Settings: settings, Scratch: scratch, Run: run, Skip: skip, Timeout: f.timeout,
		Described: &info,
	}
	if a.verbose {
		opts.Progress = func(r conformance.Result) {
			fmt.Fprintf(a.stderr, "plugin check: %s %s (%v)\n", r.Name, r.Status, r.Duration.Round(time.Millisecond))
		}
	}
	results, err := conformance.Run(ctx, opts)
	if err != nil && results == nil {
		return &exitError{code: 1, err: err}
	}

	var passed, skipped int
	var failed []string
	for _, r := range results {
		switch r.Status {
		case conformance.Pass:
			passed++
		case conformance.Skip:
			skipped++
		case conformance.Fail:
			failed = append(failed, r.Name)
		}
	}
	if f.json {
		rep := checkReport{Path: path, Plugin: info, Passed: passed, Skipped: skipped, Failed: len(failed),
			Seconds: time.Since(start).Seconds(), Checks: []checkJSON{}}
		if err != nil {
			rep.Error = err.Error()
		}
		for _, r := range results {
			rep.Checks = append(rep.Checks, checkJSON{Name: r.Name, Status: string(r.Status), Seconds: r.Duration.Seconds(), Message: r.Message, Log: r.Log})
		}
		if perr := a.printJSON(rep); perr != nil {
			return perr
		}
	} else {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tRESULT\tTIME\tDETAIL")
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Status, fmtDuration(r.Duration), r.Message)
		}
		tw.Flush()
		fmt.Fprintf(a.stdout, "%d passed, %d skipped, %d failed (%v)\n", passed, skipped, len(failed), time.Since(start).Round(time.Millisecond))
	}

	for _, r := range results {
		if r.Status == conformance.Fail || a.verbose {
			fmt.Fprintf(a.stderr, "--- %s: %s (%v)\n%s", strings.ToUpper(string(r.Status)), r.Name, r.Duration.Round(time.Millisecond), indent(r.Log))
		}
	}
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if len(failed) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("plugin %s fails %d of %d checks: %s", info.Name, len(failed), len(results), strings.Join(failed, ", "))}
	}
	return nil
}

// checkReport is what `plugin check --json` prints.
type checkReport struct {
	Path    string      `json:"path"`
	Plugin  sdk.Info    `json:"plugin"`
	Passed  int         `json:"passed"`
	Skipped int         `json:"skipped"`
	Failed  int         `json:"failed"`
	Seconds float64     `json:"seconds"`
	Error   string      `json:"error,omitempty"`
	Checks  []checkJSON `json:"checks"`
}

type checkJSON struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // pass, fail or skip
	Seconds float64 `json:"seconds"`
	Message string  `json:"message,omitempty"`
	Log     string  `json:"log,omitempty"`
}

func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    ")
		b.WriteString(l)
	}
	b.WriteString("\n")
	return b.String()
}

func newPluginDescribeCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "describe PATH",
		Short: "Print a plugin's name, version, capabilities and settings",
		Args:  onePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.pluginDescribe(cmd, args[0], asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// pluginDescription is what `plugin describe --json` prints.
type pluginDescription struct {
	Path     string        `json:"path"`
	Info     sdk.Info      `json:"info"`
	Settings []settingDesc `json:"settings"`
}

type settingDesc struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	Secret   bool   `json:"secret,omitempty"`
	Help     string `json:"help,omitempty"`
}

func (a *app) pluginDescribe(cmd *cobra.Command, path string, asJSON bool) error {
	if err := checkBinary(path); err != nil {
		return &exitError{code: 1, err: err}
	}
	info, decl, err := sdk.Describe(cmd.Context(), path)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("%w\n(is %s a skyloop storage plugin? plugins are built with sdk.Serve)", err, path)}
	}
	d := pluginDescription{Path: path, Info: info, Settings: []settingDesc{}}
	for _, s := range decl {
		d.Settings = append(d.Settings, settingDesc{Name: s.Name, Required: s.Required, Secret: s.Secret, Help: s.Help})
	}
	if asJSON {
		return a.printJSON(d)
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", info.Name)
	fmt.Fprintf(tw, "version:\t%s\n", info.Version)
	fmt.Fprintf(tw, "protocol:\t%d\n", info.Protocol)
	fmt.Fprintf(tw, "capabilities:\t\n")
	fmt.Fprintf(tw, "  conditional writes:\t%s\n", yes(info.Capabilities.ConditionalWrites))
	fmt.Fprintf(tw, "  atomic replace:\t%s\n", yes(info.Capabilities.AtomicReplace))
	fmt.Fprintf(tw, "  ranged reads:\t%s\n", yes(info.Capabilities.RangedReads))
	fmt.Fprintf(tw, "  nested keys:\t%s\n", yes(info.Capabilities.NestedKeys))
	tw.Flush()
	if len(d.Settings) == 0 {
		fmt.Fprintln(a.stdout, "settings: none")
		return nil
	}
	fmt.Fprintln(a.stdout, "settings:")
	tw = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, s := range d.Settings {
		req := "optional"
		if s.Required {
			req = "required"
		}
		if s.Secret {
			req += ", secret"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, req, s.Help)
	}
	return tw.Flush()
}

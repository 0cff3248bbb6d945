package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/viewer"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newServeCmd) }

func newServeCmd(a *app) *cobra.Command {
	var addr, sink string
	var open, public bool
	cmd := &cobra.Command{
		Use:   "serve [SESSION]",
		Short: "Serve a web replay viewer of the recorded sessions (default http://127.0.0.1:8080/)",
		Long: `serve starts a local web server with a replay viewer: the sessions of every
sink (or of --sink only), grouped by game and player, and a player that shows
each recorded frame exactly as stored, with play/pause, speed, a scrub bar,
frame stepping (arrow keys, space) and the recording's gaps on the timeline,
each with why its frames are not there: dropped while recording, or damaged
(a missing, foreign, misnumbered, empty, cut short or corrupt segment, or a
frame whose CRC fails), which the page says, showing the frame before.

A session still recording is listed as LIVE, and opening it follows it:
the player stays a segment interval behind the newest frame and says how
far behind live it is, until the end record lands. With SESSION, the URL
printed (and opened with --open) goes straight to that session.

It listens on loopback only unless --public is given, and serves until
interrupted (Ctrl-C).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := checkServeAddr(addr, public)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sinks, err := a.openSinks(ctx, sink)
			if err != nil {
				return err
			}
			defer closeSinks(sinks)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr %s: %w", addr, err)
			}
			stores := make([]viewer.Store, len(sinks))
			for i, s := range sinks {
				stores[i] = s
			}
			h := viewer.New(stores, viewer.Options{Public: public, Logger: a.logger})
			defer h.Close()
			url := "http://" + urlHost(host, ln.Addr()) + "/"
			if len(args) == 1 {
				frag, err := sessionFragment(ctx, sinks, args[0])
				if err != nil {
					ln.Close()
					return err
				}
				url += frag
			}
			fmt.Fprintf(a.stdout, "skyloop viewer: serving sinks %s at %s (Ctrl-C to stop)\n", sinkNames(sinks), url)
			if open {
				if err := openBrowser(url); err != nil {
					fmt.Fprintf(a.stderr, "skyloop: --open: %v (open %s yourself)\n", err, url)
				}
			}
			if err := viewer.Serve(ctx, ln, h); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			fmt.Fprintln(a.stdout, "skyloop viewer: stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0 picks a free one)")
	cmd.Flags().StringVar(&sink, "sink", "", "only this sink (its name in the config)")
	cmd.Flags().BoolVar(&open, "open", false, "open the viewer in the default web browser")
	cmd.Flags().BoolVar(&public, "public", false, "allow a non-loopback --addr: anyone who can reach it sees every recording")
	return cmd
}

// sessionFragment is the viewer's URL fragment of the one session ref
// names (the first sink in the config that has it).
func sessionFragment(ctx context.Context, sinks []*skysync.Sink, ref string) (string, error) {
	all, err := listSessions(ctx, sinks, "")
	if err != nil {
		return "", err
	}
	var lastErr error
	for _, ss := range all {
		s, err := recordings.Find(ss.sessions, ref)
		if err == nil {
			parts := []string{ss.sink.Name(), s.Game, s.Player, s.ID}
			for i, p := range parts {
				parts[i] = url.PathEscape(p)
			}
			return "#/" + strings.Join(parts, "/"), nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%w: %q: no sink holds a recorded session", recordings.ErrNoSession, ref)
	}
	return "", lastErr
}

// checkServeAddr validates --addr and refuses an address other machines can
// reach unless public. It returns the host part.
func checkServeAddr(addr string, public bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usageError("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080 (%v)", addr, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port == "" || strconv.FormatUint(n, 10) != port {
		return "", usageError("--addr %q: the port must be a number from 0 to 65535", addr)
	}
	if public {
		return host, nil
	}
	loopback := strings.EqualFold(host, "localhost")
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	if !loopback {
		what := "host " + host
		if host == "" {
			what = "every interface"
		}
		return "", usageError("--addr %q listens on %s, reachable from other machines: use a loopback address (127.0.0.1, ::1, localhost) or add --public to serve every recording to anyone who can connect", addr, what)
	}
	return host, nil
}

// urlHost is the host:port to print: the host asked for (or the loopback
// address when none) with the port actually bound.
func urlHost(host string, bound net.Addr) string {
	_, port, _ := net.SplitHostPort(bound.String())
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

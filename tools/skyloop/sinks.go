package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/engine/config"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
)

// loadConfig reads the config the games read: --config, else
// $SKYLOOP_CONFIG, else the player's default file
// ($XDG_CONFIG_HOME/skyloop/config.toml) when it exists, else the built-in
// defaults (config.LoadResolved).
func (a *app) loadConfig() (config.Config, error) {
	cfg, path, err := config.LoadResolved(a.configPath)
	if err != nil {
		return config.Config{}, &exitError{code: 2, err: err}
	}
	if a.logger != nil {
		if path == "" {
			a.logger.Debug("config: no file (no --config, $" + config.EnvConfig + " unset, no " + config.DefaultPath() + "): built-in defaults")
		} else {
			a.logger.Debug("config", "file", path)
		}
	}
	return cfg, nil
}

// sinkConfigs is the configured sinks, or the one named only, as
// engine/sync takes them.
func (a *app) sinkConfigs(only string) ([]skysync.SinkConfig, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	var names []string
	var out []skysync.SinkConfig
	for _, sc := range cfg.Sinks {
		names = append(names, sc.Name)
		if only != "" && sc.Name != only {
			continue
		}
		settings, err := sc.StringSettings()
		if err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("config: %w", err)}
		}
		out = append(out, skysync.SinkConfig{
			Name: sc.Name, Plugin: sc.Plugin, SHA256: sc.SHA256, Settings: settings, Dirs: []string{cfg.PluginDir},
		})
	}
	if only != "" && len(out) == 0 {
		return nil, usageError("--sink %s: no such sink in the config (configured: %s)", only, strings.Join(names, ", "))
	}
	if len(out) == 0 {
		return nil, errors.New("the config has no [[sink]]: nothing was recorded anywhere")
	}
	return out, nil
}

// pluginStderr is where plugins' stderr goes: nowhere unless --verbose.
func (a *app) pluginStderr() io.Writer {
	if a.verbose {
		return a.stderr
	}
	return io.Discard
}

// openSinks starts the plugin of every configured sink, or of the one named
// only. The caller closes them.
func (a *app) openSinks(ctx context.Context, only string) ([]*skysync.Sink, error) {
	scs, err := a.sinkConfigs(only)
	if err != nil {
		return nil, err
	}
	var out []*skysync.Sink
	for _, sc := range scs {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		s, err := skysync.Start(sctx, sc, skysync.Options{Logger: a.logger, Stderr: a.pluginStderr()})
		cancel()
		if err != nil {
			closeSinks(out)
			return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func closeSinks(sinks []*skysync.Sink) {
	for _, s := range sinks {
		s.Close()
	}
}

// sinkSessions is the sessions of one opened sink.
type sinkSessions struct {
	sink     *skysync.Sink
	sessions []*recordings.Session
}

// listSessions lists the sessions of every sink in sinks under prefix
// ("" for all, "GAME/" for one game).
func listSessions(ctx context.Context, sinks []*skysync.Sink, prefix string) ([]sinkSessions, error) {
	var out []sinkSessions
	for _, s := range sinks {
		ss, err := recordings.List(ctx, s, s.Name(), prefix)
		if err != nil {
			return nil, err
		}
		out = append(out, sinkSessions{sink: s, sessions: ss})
	}
	return out, nil
}

// findSession opens the sinks (or the one named), finds the one session ref
// names and returns it with its sink; close the sinks when done. A session
// stored in several sinks is taken from the first sink in the config that
// has it.
func (a *app) findSession(ctx context.Context, sinkName, ref string) (*recordings.Session, *skysync.Sink, []*skysync.Sink, error) {
	sinks, err := a.openSinks(ctx, sinkName)
	if err != nil {
		return nil, nil, nil, err
	}
	all, err := listSessions(ctx, sinks, "")
	if err != nil {
		closeSinks(sinks)
		return nil, nil, nil, err
	}
	var lastErr error
	for _, ss := range all {
		s, err := recordings.Find(ss.sessions, ref)
		if err == nil {
			return s, ss.sink, sinks, nil
		}
		lastErr = err
		if !errors.Is(err, recordings.ErrNoSession) {
			break // ambiguous: say so rather than pick from another sink
		}
	}
	closeSinks(sinks)
	if errors.Is(lastErr, recordings.ErrNoSession) && sinkName == "" && len(sinks) > 1 {
		lastErr = fmt.Errorf("%w (looked in sinks %s)", lastErr, sinkNames(sinks))
	}
	return nil, nil, nil, &exitError{code: 1, err: lastErr}
}

func sinkNames(sinks []*skysync.Sink) string {
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.Name()
	}
	return strings.Join(names, ", ")
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
)

// --config is optional: without it the tool reads $SKYLOOP_CONFIG, else
// $XDG_CONFIG_HOME/skyloop/config.toml when it exists, else the built-in
// defaults; --config wins over both. Each config names its own sink, and
// 'sessions' names the sinks it looked in, so the output says which config
// was read. The real disk plugin serves every sink.
func TestConfigResolution(t *testing.T) {
	pluginDir := enginetest.BuildPlugin(t, "disk")
	base := t.TempDir()
	write := func(path, sink string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		doc := "player = \"tester\"\nplugin_dir = " + quote(pluginDir) + "\nspool_dir = " + quote(filepath.Join(base, "spool")) +
			"\n[[sink]]\nname = " + quote(sink) + "\nplugin = \"disk\"\n[sink.settings]\nroot = " + quote(filepath.Join(base, sink)) + "\n"
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	xdg := filepath.Join(base, "xdg")
	t.Setenv("XDG_CONFIG_HOME", xdg)
	t.Setenv("XDG_DATA_HOME", filepath.Join(base, "data"))
	t.Setenv("SKYLOOP_CONFIG", "")
	t.Setenv("PATH", pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	sessions := func(args ...string) (string, string, int) {
		return runTool(t, append([]string{"-v"}, append(args, "sessions")...)...)
	}
	saysSink := func(what, out, errOut string, code int, sink string) {
		t.Helper()
		if code != 0 || !strings.Contains(out, "in sink(s) "+sink+"\n") {
			t.Fatalf("%s: exit %d, want the sink %q:\n%s%s", what, code, sink, out, errOut)
		}
	}

	// Nothing anywhere: the built-in defaults, one disk sink "local" under
	// $XDG_DATA_HOME/skyloop.
	out, errOut, code := sessions()
	saysSink("no config at all", out, errOut, code, "local")
	if _, err := os.Stat(filepath.Join(base, "data", "skyloop")); err != nil {
		t.Errorf("the default sink is not under $XDG_DATA_HOME/skyloop: %v", err)
	}

	// The player's default file.
	def := write(filepath.Join(xdg, "skyloop", "config.toml"), "fromxdg")
	out, errOut, code = sessions()
	saysSink("default file", out, errOut, code, "fromxdg")
	if !strings.Contains(errOut, def) {
		t.Errorf("-v does not say which config file was read (%s):\n%s", def, errOut)
	}

	// $SKYLOOP_CONFIG wins over the default file.
	env := write(filepath.Join(base, "env.toml"), "fromenv")
	t.Setenv("SKYLOOP_CONFIG", env)
	out, errOut, code = sessions()
	saysSink("$SKYLOOP_CONFIG", out, errOut, code, "fromenv")

	// --config wins over both.
	flag := write(filepath.Join(base, "flag.toml"), "fromflag")
	out, errOut, code = sessions("--config", flag)
	saysSink("--config", out, errOut, code, "fromflag")

	// A $SKYLOOP_CONFIG naming no file is an error that says so (the
	// default file is optional, a file named outright is not).
	t.Setenv("SKYLOOP_CONFIG", filepath.Join(base, "gone.toml"))
	if _, errOut, code := sessions(); code != 2 || !strings.Contains(errOut, "SKYLOOP_CONFIG") || !strings.Contains(errOut, "gone.toml") {
		t.Fatalf("$SKYLOOP_CONFIG naming no file: exit %d, %q", code, errOut)
	}
	// A broken default file is reported, not skipped.
	t.Setenv("SKYLOOP_CONFIG", "")
	if err := os.WriteFile(def, []byte("player = \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := sessions(); code != 2 || !strings.Contains(errOut, def) {
		t.Fatalf("broken default file: exit %d, %q", code, errOut)
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsWithoutFile(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Capture.Enabled || c.Capture.Readback != "auto" || c.Capture.KeyInterval != 120 || c.Player == "" {
		t.Fatalf("defaults: %+v", c)
	}
	if len(c.Sinks) != 1 || c.Sinks[0].Plugin != "disk" || c.Sinks[0].Settings["root"] != "/data/skyloop" {
		t.Fatalf("default sink: %+v", c.Sinks)
	}
}

func TestParseDesignExample(t *testing.T) {
	const doc = `
player = "alice"                # default: the OS user name
[capture]
enabled  = true
fps      = 0
readback = "pbo"
[[sink]]
name   = "local"
plugin = "disk"
sha256 = ""
[sink.settings]
root = "/home/alice/.local/share/skyloop"
[[sink]]
name   = "cloud"
plugin = "s3"
[sink.settings]
bucket   = "my-bucket"
endpoint = "http://127.0.0.1:7070"
region   = "us-east-1"
`
	c, err := Parse("x.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Player != "alice" || c.Capture.Readback != "pbo" || len(c.Sinks) != 2 || c.Sinks[1].Settings["bucket"] != "my-bucket" {
		t.Fatalf("parsed %+v", c)
	}
	// Keys not in the file keep their defaults.
	if c.Capture.Codec != "zstd" || c.Capture.Queue != 8 {
		t.Fatalf("defaults lost: %+v", c.Capture)
	}
}

func TestBadConfigsNameTheProblem(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"[capture]\nfsp = 30\n", "unknown key capture.fsp"},
		{"[capture]\nreadback = \"fast\"\n", `capture.readback "fast": want auto, pbo or sync`},
		{"[capture]\ndrop = \"all\"\n", "capture.drop"},
		{"[capture]\nqueue = 0\n", "capture.queue 0"},
		{"[capture]\neffort = 5\n", "capture.effort 5: want 0 (adaptive) or 1 (fastest) to 4"},
		{"[capture]\neffort = -1\n", "capture.effort -1"},
		{"[capture]\nscreenshot_key = \"F13\"\n", "capture.screenshot_key"},
		{"player = \"../x\"\n", `player "../x"`},
		{"[[sink]]\nname=\"a\"\nplugin=\"disk\"\n[[sink]]\nname=\"a\"\nplugin=\"s3\"\n", `sink "a": defined twice`},
		{"[[sink]]\nname=\"a\"\nplugin=\"disk\"\nsha256=\"abc\"\n", "want 64 hex digits"},
		{"player = \n", "x.toml: line 1"},
		{"[capture]\nmode = \"instant\"\n", `capture.mode "instant": want record (`},
		{"[capture]\nmode = \"Replay\"\n", "or both"},
		{"[capture]\nreplay_seconds = 0\n", "capture.replay_seconds 0: want more than 0"},
		{"[capture]\nreplay_memory_mb = -1\n", "capture.replay_memory_mb -1: want more than 0"},
		{"[capture]\nreplay_key = \"F13\"\n", "capture.replay_key: key \"F13\""},
		{"[capture]\nreplay_key = \"f9\"\n", `capture.replay_key "f9": it is capture.record_key too`},
	} {
		_, err := Parse("x.toml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.doc, err, tc.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestResolveOrder(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv(EnvConfig, "")
	if p, err := Resolve(""); err != nil || p != "" {
		t.Fatalf("no file anywhere: Resolve = %q, %v; want \"\", nil", p, err)
	}
	def := filepath.Join(dir, "skyloop", "config.toml")
	if DefaultPath() != def {
		t.Fatalf("DefaultPath = %q, want %q", DefaultPath(), def)
	}
	if err := os.MkdirAll(filepath.Dir(def), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, []byte("player = \"fromdefault\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, p, err := LoadResolved("")
	if err != nil || p != def || cfg.Player != "fromdefault" {
		t.Fatalf("default file: LoadResolved = %q, %q, %v", cfg.Player, p, err)
	}
	env := filepath.Join(dir, "env.toml")
	if err := os.WriteFile(env, []byte("player = \"fromenv\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvConfig, env)
	if cfg, p, err = LoadResolved(""); err != nil || p != env || cfg.Player != "fromenv" {
		t.Fatalf("%s: LoadResolved = %q, %q, %v", EnvConfig, cfg.Player, p, err)
	}
	flag := filepath.Join(dir, "flag.toml")
	if err := os.WriteFile(flag, []byte("player = \"fromflag\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, p, err = LoadResolved(flag); err != nil || p != flag || cfg.Player != "fromflag" {
		t.Fatalf("flag: LoadResolved = %q, %q, %v", cfg.Player, p, err)
	}
	t.Setenv(EnvConfig, filepath.Join(dir, "missing.toml"))
	if _, err := Resolve(""); err == nil || !strings.Contains(err.Error(), EnvConfig) {
		t.Fatalf("missing %s file: err = %v, want one naming the variable", EnvConfig, err)
	}
}

func TestReplaySettings(t *testing.T) {
	c, err := Parse("x.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := c.Capture
	if cp.Mode != "record" || cp.ReplaySeconds != 30 || cp.ReplayMemoryMB != 256 || cp.ReplayKey != "F10" || cp.ReplayWindow() != 30*time.Second {
		t.Fatalf("replay defaults: mode %q, %g s, %g MB, key %q", cp.Mode, cp.ReplaySeconds, cp.ReplayMemoryMB, cp.ReplayKey)
	}
	for _, mode := range []string{"record", "replay", "both"} {
		doc := "[capture]\nmode = \"" + mode + "\"\nreplay_seconds = 12.5\nreplay_memory_mb = 0.5\nreplay_key = \"r\"\n"
		c, err := Parse("x.toml", []byte(doc))
		if err != nil {
			t.Fatalf("mode %s: %v", mode, err)
		}
		if cp := c.Capture; cp.Mode != mode || cp.ReplayWindow() != 12500*time.Millisecond || cp.ReplayMemoryMB != 0.5 || cp.ReplayKey != "r" {
			t.Fatalf("mode %s: parsed %+v", mode, cp)
		}
	}
	// No replay key at all is allowed (saves then come from the game only).
	if _, err := Parse("x.toml", []byte("[capture]\nreplay_key = \"\"\n")); err != nil {
		t.Fatal(err)
	}
}

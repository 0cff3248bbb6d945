package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultsWithoutFile(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Capture.Enabled || c.Capture.Readback != "auto" || c.Capture.KeyInterval != 60 || c.Player == "" {
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
		{"[capture]\nscreenshot_key = \"F13\"\n", "capture.screenshot_key"},
		{"player = \"../x\"\n", `player "../x"`},
		{"[[sink]]\nname=\"a\"\nplugin=\"disk\"\n[[sink]]\nname=\"a\"\nplugin=\"s3\"\n", `sink "a": defined twice`},
		{"[[sink]]\nname=\"a\"\nplugin=\"disk\"\nsha256=\"abc\"\n", "want 64 hex digits"},
		{"player = \n", "x.toml: line 1"},
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

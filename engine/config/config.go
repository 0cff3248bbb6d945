package config

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// Config is the whole file.
type Config struct {
	Player string `toml:"player"`
	// PluginDir is searched for skyloop-plugin-NAME after the directory of
	// the game's binary and before PATH.
	PluginDir string `toml:"plugin_dir"`
	// SpoolDir holds work not yet delivered to every sink.
	SpoolDir string `toml:"spool_dir"`
	// SpoolMB caps the spool; the oldest recordings go first, saves never.
	SpoolMB float64 `toml:"spool_mb"`
	// ExitWaitSeconds is how long a game waits at exit for the spool to
	// deliver; what is left is delivered at the next start.
	ExitWaitSeconds float64 `toml:"exit_wait_seconds"`
	Capture         Capture `toml:"capture"`
	Saves           Saves   `toml:"saves"`
	Sinks           []Sink  `toml:"sink"`
}

// Saves configures engine/saves: the game's own data (save slots, scores,
// achievements), kept locally and synced through the sinks.
type Saves struct {
	Enabled bool   `toml:"enabled"`
	Dir     string `toml:"dir"`    // local copy; default DataDir()/saves, or beside spool_dir when that is set
	Device  string `toml:"device"` // this device's name; default the host name
	// PollSeconds is how often other devices' changes are looked for.
	PollSeconds float64 `toml:"poll_seconds"`
	// Policy decides what the merge rules leave open: most_recent |
	// most_progress | longest_play | manual.
	Policy string `toml:"policy"`
	// PassphraseEnv names an environment variable holding the passphrase
	// that encrypts saves; "" = not encrypted. The passphrase itself never
	// goes in the file.
	PassphraseEnv string  `toml:"passphrase_env"`
	History       int     `toml:"history"`     // versions kept per slot
	MaxSlotMB     float64 `toml:"max_slot_mb"` // per slot
	MaxGameMB     float64 `toml:"max_game_mb"` // all slots of a game
}

// Capture configures engine/capture.
type Capture struct {
	Enabled  bool    `toml:"enabled"`
	FPS      float64 `toml:"fps"`       // 0: every rendered frame
	Every    int     `toml:"every"`     // capture every Nth frame (1: all); ignored when FPS > 0
	Readback string  `toml:"readback"`  // auto | pbo | sync
	Source   string  `toml:"source"`    // screen (the game's logical screen) | window (what the player sees)
	PBOs     int     `toml:"pbo_count"` // ring size for pbo readback
	Codec    string  `toml:"codec"`     // zstd | s2
	// KeyInterval forces a key frame every N frames (and each segment
	// starts with one).
	KeyInterval int `toml:"key_interval"`
	// Queue is how many captured frames may wait for an encoder.
	Queue int `toml:"queue"`
	// Drop says what happens when the queue is full: newest | oldest | block.
	Drop    string `toml:"drop"`
	Workers int    `toml:"workers"` // encoder goroutines; 0: one per spare core
	// Effort is the segment coder's effort, 1 (fastest) to 4 (smallest);
	// 0 (the default) adapts it frame by frame to the encoders' headroom
	// and the machine's idle CPU.
	Effort         int     `toml:"effort"`
	SegmentSeconds float64 `toml:"segment_seconds"`
	SegmentFrames  int     `toml:"segment_frames"`
	SegmentMB      float64 `toml:"segment_mb"`
	ScreenshotKey  string  `toml:"screenshot_key"`
	RecordKey      string  `toml:"record_key"`
	OverlayKey     string  `toml:"overlay_key"`
	ScreenshotDir  string  `toml:"screenshot_dir"`
	// Mode is what capture does: record (sessions the player starts and
	// stops with record_key; the default), replay (only the instant-replay
	// buffer: the last ReplaySeconds kept in memory, stored when the
	// player presses replay_key) or both, independently.
	Mode           string  `toml:"mode"`
	ReplaySeconds  float64 `toml:"replay_seconds"`
	ReplayMemoryMB float64 `toml:"replay_memory_mb"` // cap on the replay buffer's memory
	ReplayKey      string  `toml:"replay_key"`
}

// Sink is one destination for recordings and saves, served by the plugin
// binary skyloop-plugin-PLUGIN.
type Sink struct {
	Name     string         `toml:"name"`
	Plugin   string         `toml:"plugin"`
	SHA256   string         `toml:"sha256"`
	Settings map[string]any `toml:"settings"`
}

// DataDir is where skyloop keeps local data by default:
// $XDG_DATA_HOME/skyloop, else ~/.local/share/skyloop.
func DataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "skyloop")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "skyloop")
	}
	return filepath.Join(os.TempDir(), "skyloop")
}

func defaultPlayer() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return sanitizeName(u.Username)
	}
	return "player"
}

var nameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func sanitizeName(s string) string {
	s = nameChars.ReplaceAllString(s, "_")
	if s == "" || s == "." || s == ".." {
		return "player"
	}
	return s
}

// Default is the configuration of a player who wrote no file: capture on,
// one disk sink under DataDir.
func Default() Config {
	return Config{
		Player:          defaultPlayer(),
		SpoolDir:        filepath.Join(DataDir(), "spool"),
		SpoolMB:         2048,
		ExitWaitSeconds: 10,
		Capture: Capture{
			Enabled:        true,
			Every:          1,
			Readback:       "auto",
			Source:         "screen",
			PBOs:           3,
			Codec:          "zstd",
			KeyInterval:    segment.DefaultKeyInterval,
			Queue:          8,
			Drop:           "newest",
			SegmentSeconds: 2,
			SegmentFrames:  0,
			SegmentMB:      64,
			ScreenshotKey:  "F12",
			RecordKey:      "F9",
			OverlayKey:     "F3",
			ScreenshotDir:  filepath.Join(DataDir(), "screenshots"),
			Mode:           "record",
			ReplaySeconds:  30,
			ReplayMemoryMB: 256,
			ReplayKey:      "F10",
		},
		Saves: Saves{
			Enabled:     true,
			Dir:         filepath.Join(DataDir(), "saves"),
			PollSeconds: 2,
			Policy:      "most_recent",
			History:     20,
			MaxSlotMB:   4,
			MaxGameMB:   64,
		},
		Sinks: []Sink{defaultSink()},
	}
}

func defaultSink() Sink {
	return Sink{Name: "local", Plugin: "disk", Settings: map[string]any{"root": DataDir()}}
}

// ConfigDir is where the player's config file lives by default:
// $XDG_CONFIG_HOME/skyloop, else ~/.config/skyloop.
func ConfigDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "skyloop")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".config", "skyloop")
	}
	return filepath.Join(os.TempDir(), "skyloop-config")
}

// EnvConfig names the environment variable that points games and the tool
// at a config file when no -config / --config is given.
const EnvConfig = "SKYLOOP_CONFIG"

// DefaultPath is the player's config file when none is named:
// ConfigDir()/config.toml.
func DefaultPath() string { return filepath.Join(ConfigDir(), "config.toml") }

// Resolve picks the config file games and the tool read: explicit (a flag)
// when set, else $SKYLOOP_CONFIG, else DefaultPath when that file exists,
// else "" (the built-in defaults). A file named by the flag or the
// variable must exist; the default file is optional.
func Resolve(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv(EnvConfig); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("config: %s=%s: %w (unset it or point it at a config file)", EnvConfig, p, err)
		}
		return p, nil
	}
	p := DefaultPath()
	if _, err := os.Stat(p); err == nil {
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("config: %w", err)
	}
	return "", nil
}

// LoadResolved is Load(Resolve(explicit)): what a game or the tool reads.
// It returns the path read ("" for the built-in defaults).
func LoadResolved(explicit string) (Config, string, error) {
	p, err := Resolve(explicit)
	if err != nil {
		return Config{}, "", err
	}
	cfg, err := Load(p)
	return cfg, p, err
}

// Load reads path over the defaults; "" returns the defaults. Errors name the
// file, the key and what is accepted.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named name in errors) over the defaults.
func Parse(name string, data []byte) (Config, error) {
	cfg := Default()
	cfg.Sinks = nil
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return Config{}, fmt.Errorf("config %s: line %d: %s", name, perr.Position.Line, perr.Message)
		}
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		// Sink settings belong to the plugin, which validates them itself.
		if len(k) >= 2 && k[0] == "sink" && k[1] == "settings" {
			continue
		}
		unknown = append(unknown, k.String())
	}
	if len(unknown) > 0 {
		return Config{}, fmt.Errorf("config %s: unknown key %s (check the spelling; known keys are listed in README.md under Config)", name, strings.Join(unknown, ", "))
	}
	if !md.IsDefined("sink") {
		cfg.Sinks = []Sink{defaultSink()}
	}
	if md.IsDefined("spool_dir") && !md.IsDefined("saves", "dir") {
		// Local data stays together: saves beside the spool.
		cfg.Saves.Dir = filepath.Join(filepath.Dir(cfg.SpoolDir), "saves")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	return cfg, nil
}

// Validate checks values and returns an error naming the first bad one.
func (c *Config) Validate() error {
	if c.Player == "" || sanitizeName(c.Player) != c.Player {
		return fmt.Errorf("player %q: use letters, digits, '.', '_' or '-'", c.Player)
	}
	if c.SpoolMB < 0 {
		return fmt.Errorf("spool_mb %g: want 0 (no cap) or more", c.SpoolMB)
	}
	if c.ExitWaitSeconds < 0 || c.ExitWaitSeconds > 3600 {
		return fmt.Errorf("exit_wait_seconds %g: want 0..3600", c.ExitWaitSeconds)
	}
	if c.SpoolDir == "" {
		return errors.New("spool_dir: must name a directory")
	}
	cp := &c.Capture
	switch cp.Readback {
	case "auto", "pbo", "sync":
	default:
		return fmt.Errorf("capture.readback %q: want auto, pbo or sync", cp.Readback)
	}
	switch cp.Source {
	case "screen", "window":
	default:
		return fmt.Errorf("capture.source %q: want screen (the game's logical screen) or window (what the player sees)", cp.Source)
	}
	switch cp.Codec {
	case "zstd", "s2":
	default:
		return fmt.Errorf("capture.codec %q: want zstd or s2", cp.Codec)
	}
	switch cp.Drop {
	case "newest", "oldest", "block":
	default:
		return fmt.Errorf("capture.drop %q: want newest, oldest or block", cp.Drop)
	}
	switch cp.Mode {
	case "record", "replay", "both":
	default:
		return fmt.Errorf("capture.mode %q: want record (sessions started and stopped with record_key; the default), replay (keep the last replay_seconds in memory, stored when replay_key is pressed) or both", cp.Mode)
	}
	checks := []struct {
		ok   bool
		what string
	}{
		{cp.FPS >= 0 && cp.FPS <= 1000, fmt.Sprintf("capture.fps %g: want 0 (every frame) to 1000", cp.FPS)},
		{cp.Every >= 1, fmt.Sprintf("capture.every %d: want 1 or more", cp.Every)},
		{cp.PBOs >= 2 && cp.PBOs <= 16, fmt.Sprintf("capture.pbo_count %d: want 2..16", cp.PBOs)},
		{cp.KeyInterval >= 1, fmt.Sprintf("capture.key_interval %d: want 1 or more", cp.KeyInterval)},
		{cp.Queue >= 1 && cp.Queue <= 1024, fmt.Sprintf("capture.queue %d: want 1..1024", cp.Queue)},
		{cp.Workers >= 0 && cp.Workers <= 256, fmt.Sprintf("capture.workers %d: want 0 (auto) to 256", cp.Workers)},
		{cp.Effort >= 0 && cp.Effort <= 4, fmt.Sprintf("capture.effort %d: want 0 (adaptive) or 1 (fastest) to 4 (smallest)", cp.Effort)},
		{cp.SegmentSeconds > 0 && cp.SegmentSeconds <= 600, fmt.Sprintf("capture.segment_seconds %g: want more than 0, at most 600", cp.SegmentSeconds)},
		{cp.SegmentFrames >= 0, fmt.Sprintf("capture.segment_frames %d: want 0 (no limit) or more", cp.SegmentFrames)},
		{cp.SegmentMB > 0 && cp.SegmentMB <= 4096, fmt.Sprintf("capture.segment_mb %g: want more than 0, at most 4096", cp.SegmentMB)},
		{cp.ReplaySeconds > 0 && cp.ReplaySeconds <= 3600, fmt.Sprintf("capture.replay_seconds %g: want more than 0, at most 3600", cp.ReplaySeconds)},
		{cp.ReplayMemoryMB > 0 && cp.ReplayMemoryMB <= 65536, fmt.Sprintf("capture.replay_memory_mb %g: want more than 0, at most 65536", cp.ReplayMemoryMB)},
	}
	for _, ch := range checks {
		if !ch.ok {
			return errors.New(ch.what)
		}
	}
	keys := []struct{ name, v string }{{"screenshot_key", cp.ScreenshotKey}, {"record_key", cp.RecordKey}, {"overlay_key", cp.OverlayKey}, {"replay_key", cp.ReplayKey}}
	for _, k := range keys {
		if _, err := ParseKeyName(k.v); err != nil {
			return fmt.Errorf("capture.%s: %w", k.name, err)
		}
	}
	// One key cannot both save a replay and do another engine hotkey's job.
	if rk, _ := ParseKeyName(cp.ReplayKey); rk != "" {
		for _, k := range keys[:3] {
			if n, _ := ParseKeyName(k.v); n == rk {
				return fmt.Errorf("capture.replay_key %q: it is capture.%s too; give one of them another key", cp.ReplayKey, k.name)
			}
		}
	}
	sv := &c.Saves
	switch sv.Policy {
	case "most_recent", "most_progress", "longest_play", "manual":
	default:
		return fmt.Errorf("saves.policy %q: want most_recent, most_progress, longest_play or manual", sv.Policy)
	}
	for _, ch := range []struct {
		ok   bool
		what string
	}{
		{sv.Dir != "", "saves.dir: must name a directory"},
		{sv.PollSeconds >= 0.1 && sv.PollSeconds <= 3600, fmt.Sprintf("saves.poll_seconds %g: want 0.1..3600", sv.PollSeconds)},
		{sv.History >= 1 && sv.History <= 10000, fmt.Sprintf("saves.history %d: want 1..10000", sv.History)},
		{sv.MaxSlotMB > 0 && sv.MaxSlotMB <= 1024, fmt.Sprintf("saves.max_slot_mb %g: want more than 0, at most 1024", sv.MaxSlotMB)},
		{sv.MaxGameMB >= sv.MaxSlotMB && sv.MaxGameMB <= 65536, fmt.Sprintf("saves.max_game_mb %g: want at least max_slot_mb, at most 65536", sv.MaxGameMB)},
		{sv.PassphraseEnv == "" || regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(sv.PassphraseEnv), fmt.Sprintf("saves.passphrase_env %q: want the name of an environment variable (the passphrase itself never goes in the config)", sv.PassphraseEnv)},
	} {
		if !ch.ok {
			return errors.New(ch.what)
		}
	}
	seen := map[string]bool{}
	for i, s := range c.Sinks {
		if s.Name == "" || sanitizeName(s.Name) != s.Name {
			return fmt.Errorf("sink #%d: name %q: want a non-empty name of letters, digits, '.', '_' or '-'", i+1, s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("sink %q: defined twice; sink names must be unique", s.Name)
		}
		seen[s.Name] = true
		if s.Plugin == "" || sanitizeName(s.Plugin) != s.Plugin {
			return fmt.Errorf("sink %q: plugin %q: want a plugin name such as disk, s3 or ftp", s.Name, s.Plugin)
		}
		if s.SHA256 != "" && !regexp.MustCompile(`^[0-9a-fA-F]{64}$`).MatchString(s.SHA256) {
			return fmt.Errorf("sink %q: sha256 %q: want 64 hex digits (sha256sum of the plugin binary)", s.Name, s.SHA256)
		}
	}
	return nil
}

// StringSettings returns the sink's settings as the strings plugins
// receive: TOML numbers and booleans are formatted, nested tables refused.
func (s Sink) StringSettings() (map[string]string, error) {
	out := make(map[string]string, len(s.Settings))
	for k, v := range s.Settings {
		switch v := v.(type) {
		case string:
			out[k] = v
		case int64, float64, bool:
			out[k] = fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("sink %q: settings.%s: want a string, number or boolean, not %T", s.Name, k, v)
		}
	}
	return out, nil
}

// ReplayWindow returns ReplaySeconds as a duration.
func (c Capture) ReplayWindow() time.Duration {
	return time.Duration(c.ReplaySeconds * float64(time.Second))
}

// SegmentDuration returns SegmentSeconds as a duration.
func (c Capture) SegmentDuration() time.Duration {
	return time.Duration(c.SegmentSeconds * float64(time.Second))
}

// ParseKeyName accepts "F1".."F12", a letter or digit, or "" (no hotkey);
// it returns the key's name normalised to upper case.
func ParseKeyName(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == "" {
		return "", nil
	}
	if len(u) == 1 && (u[0] >= 'A' && u[0] <= 'Z' || u[0] >= '0' && u[0] <= '9') {
		return u, nil
	}
	var n int
	if _, err := fmt.Sscanf(u, "F%d", &n); err == nil && n >= 1 && n <= 12 && fmt.Sprintf("F%d", n) == u {
		return u, nil
	}
	return "", fmt.Errorf("key %q: want F1..F12, a letter, a digit, or \"\" for none", s)
}

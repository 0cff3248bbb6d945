package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/config"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// hotkeys are the engine's own keys (they still reach the game too).
type hotkeys struct {
	screenshot, record, overlay, replay input.Key
}

var gameNameChars = regexp.MustCompile(`[^a-z0-9._-]+`)

// gameName turns a title into the GAME component of keys.
func gameName(opts *Options) string {
	n := opts.Name
	if n == "" {
		n = opts.Title
	}
	n = strings.Trim(gameNameChars.ReplaceAllString(strings.ToLower(n), "-"), "-.")
	if n == "" {
		return "game"
	}
	return n
}

// keyFromName maps config key names ("F12", "P", "7") to keys.
func keyFromName(name string) input.Key {
	n, err := config.ParseKeyName(name)
	if err != nil || n == "" {
		return input.KeyUnknown
	}
	switch {
	case n[0] == 'F' && len(n) > 1:
		var i int
		fmt.Sscanf(n[1:], "%d", &i)
		return input.KeyF1 + input.Key(i-1)
	case n[0] >= 'A' && n[0] <= 'Z':
		return input.KeyA + input.Key(n[0]-'A')
	default:
		return input.Key0 + input.Key(n[0]-'0')
	}
}

// captureOptions builds the recorder's options from the config file and
// the flags. ok is false when capture is off.
//
// When capture records, it also opens the spool and starts the sink plugins
// (opts.storage); Run closes them.
func captureOptions(opts *Options) (capture.Options, hotkeys, bool, error) {
	if opts.Capture != nil {
		co := *opts.Capture
		if co.Game == "" {
			co.Game = gameName(opts)
		}
		if co.Player == "" {
			co.Player = "player"
		}
		opts.captureMode = "record"
		if co.Replay.Window > 0 {
			opts.captureMode = "both"
		}
		return co, hotkeys{input.KeyF12, input.KeyF9, input.KeyF3, input.KeyF10}, true, nil
	}
	cfg, path, err := config.LoadResolved(opts.ConfigPath)
	if err != nil {
		return capture.Options{}, hotkeys{}, false, err
	}
	if path != "" && opts.ConfigPath == "" {
		opts.Logger.Info("config: read " + path)
	}
	cc := cfg.Capture
	hk := hotkeys{keyFromName(cc.ScreenshotKey), keyFromName(cc.RecordKey), keyFromName(cc.OverlayKey), keyFromName(cc.ReplayKey)}
	opts.captureMode = cc.Mode
	mode, err := capture.ParseReadbackMode(cc.Readback)
	if err != nil {
		return capture.Options{}, hk, false, err
	}
	codec, err := segment.ParseCodec(cc.Codec)
	if err != nil {
		return capture.Options{}, hk, false, err
	}
	source, err := capture.ParseSource(cc.Source)
	if err != nil {
		return capture.Options{}, hk, false, err
	}
	drop, err := capture.ParseDropPolicy(cc.Drop)
	if err != nil {
		return capture.Options{}, hk, false, err
	}
	// Segments and saves go to the spool, which delivers them to every
	// sink's plugin.
	opts.config = &cfg
	recordWanted := cc.Enabled && !opts.CaptureOff
	var sink capture.SegmentSink
	if len(cfg.Sinks) > 0 && recordWanted {
		st, err := openStorage(cfg, gameName(opts), recordWanted, opts.Logger)
		if err != nil {
			return capture.Options{}, hk, false, err
		}
		opts.storage = st
		if st != nil {
			sink = st
		}
	}
	opts.recordSink = sink != nil && cc.Mode != "replay"
	co := capture.Options{
		Game:          gameName(opts),
		Player:        cfg.Player,
		Source:        source,
		Readback:      mode,
		PBOs:          cc.PBOs,
		Every:         cc.Every,
		FPS:           cc.FPS,
		Recording:     cc.Enabled && sink != nil && !opts.CaptureOff && cc.Mode != "replay",
		ScreenshotDir: cc.ScreenshotDir,
		Pipeline: capture.PipelineConfig{
			Sink:          sink,
			Codec:         codec,
			KeyInterval:   cc.KeyInterval,
			Queue:         cc.Queue,
			Drop:          drop,
			Workers:       cc.Workers,
			Effort:        cc.Effort,
			SegmentFrames: cc.SegmentFrames,
			SegmentBytes:  int64(cc.SegmentMB * (1 << 20)),
			SegmentTime:   cc.SegmentDuration(),
		},
	}
	if sink != nil && cc.Mode != "record" {
		co.Replay = capture.ReplayOptions{Window: cc.ReplayWindow(), MaxBytes: int64(cc.ReplayMemoryMB * (1 << 20))}
	}
	if sink == nil {
		co.Pipeline.Sink = discardSink{}
	}
	return co, hk, true, nil
}

type discardSink struct{}

func (discardSink) PutSegment(context.Context, capture.SegmentInfo, []byte) error {
	return nil
}

// current is the loop of the running Run, for the package-level capture
// controls below. Only one Run runs at a time (it owns the render thread).
var current *loop

// RequestScreenshot asks for the next rendered frame to be saved as a PNG
// in the configured screenshot directory (encoded off the render thread).
// Call it from Update or Draw. It reports false when capture is off.
func RequestScreenshot() bool {
	if current == nil || current.rec == nil {
		return false
	}
	current.rec.Screenshot()
	return true
}

// SetRecording starts (a new session) or stops recording. Call it from
// Update or Draw. It reports false when capture is off or has no sink to
// record to.
func SetRecording(on bool) bool {
	if current == nil || current.rec == nil || !current.canRecord {
		return false
	}
	if err := current.setRecording(on, "SetRecording"); err != nil {
		current.opts.Logger.Error("capture: set recording", "on", on, "err", err)
	}
	return true
}

// SaveReplay stores the replay buffer — the last capture.replay_seconds of
// frames, up to the newest frame drawn — as a new session in every sink,
// as the replay hotkey (capture.replay_key, F10) does, and shows the
// outcome in the window. Call it from Update or Draw. It returns at once:
// the clip is written in the background, and a sink that then refuses it
// is reported in the window, the log and CaptureMetrics().ReplaySavesFailed.
// It returns an error saying why when the save cannot start: no game runs,
// capture is off, capture.mode is "record" (capture.ErrReplayOff), nothing
// is buffered yet (capture.ErrReplayEmpty), or two saves are still being
// written (capture.ErrReplayBusy: a second save while one is written is
// queued, a third refused).
func SaveReplay() error {
	if current == nil {
		return errors.New("engine: SaveReplay: no game is running (call it from Update or Draw)")
	}
	return current.saveReplay("SaveReplay")
}

// Recording reports whether frames are being recorded now.
func Recording() bool { return current != nil && current.rec != nil && current.rec.Recording() }

// CaptureMetrics returns the capture counters of the running game (zero
// when capture is off or no game runs).
func CaptureMetrics() capture.Metrics {
	if current == nil || current.rec == nil {
		return capture.Metrics{}
	}
	return current.captureMetrics()
}

// captureMetrics are the recorder's counters with the spool's and sinks'
// state.
func (l *loop) captureMetrics() capture.Metrics {
	m := l.rec.Metrics()
	if st := l.opts.storage; st != nil && st.sp != nil {
		ss := st.sp.Stats()
		m.SpoolFull, m.Evicted = ss.Full, ss.Evicted
		for _, sk := range ss.Sinks {
			if !sk.Active {
				continue
			}
			x := capture.SinkMetrics{Name: sk.Name, Down: sk.Down, Outages: sk.Outages,
				Pending: sk.Pending, PendingBytes: sk.PendingBytes, Delivered: sk.Delivered}
			if sk.Down {
				x.DownFor = time.Since(sk.DownSince)
			}
			m.Sinks = append(m.Sinks, x)
		}
	}
	return m
}

// saveReplay asks for a clip, for the replay hotkey and SaveReplay (named
// by by in the log), and shows the request or why it failed.
func (l *loop) saveReplay(by string) error {
	err := l.requestReplay()
	if err != nil {
		l.notify("Replay not saved: "+replayReason(err), true)
		l.opts.Logger.Warn("replay not saved", "by", by, "err", err)
		return err
	}
	l.notify("Saving replay…", false)
	l.opts.Logger.Info("replay save requested", "by", by)
	return nil
}

func (l *loop) requestReplay() error {
	switch {
	case l.rec == nil:
		return fmt.Errorf("engine: SaveReplay: %w: capture is off (capture.enabled = false or -capture=false)", capture.ErrReplayOff)
	case !l.rec.Replaying() && l.opts.captureMode == "record":
		return fmt.Errorf("engine: SaveReplay: %w: capture.mode is \"record\"; set capture.mode = \"replay\" or \"both\" in the config to keep the last seconds", capture.ErrReplayOff)
	case !l.rec.Replaying():
		return fmt.Errorf("engine: SaveReplay: %w: no sink to save clips to (every [[sink]] is disabled or missing)", capture.ErrReplayOff)
	}
	if err := l.rec.SaveReplay(); err != nil {
		return fmt.Errorf("engine: SaveReplay: %w", err)
	}
	return nil
}

// replayReason is why a save failed, short enough for the window.
func replayReason(err error) string {
	switch {
	case errors.Is(err, capture.ErrReplayOff) && strings.Contains(err.Error(), "capture.mode"):
		return "replay is off (capture.mode = \"record\")"
	case errors.Is(err, capture.ErrReplayOff):
		return "replay is off"
	case errors.Is(err, capture.ErrReplayEmpty):
		return "nothing buffered yet"
	case errors.Is(err, capture.ErrReplayBusy):
		return "two saves are still being written"
	case errors.Is(err, capture.ErrNoRoom):
		return "no room in the spool (see the log)"
	}
	return "the sink refused it (see the log)"
}

// pollReplay shows the outcome of saves that finished (the log line comes
// from capture).
func (l *loop) pollReplay() {
	if l.rec == nil {
		return
	}
	for _, res := range l.rec.ReplayResults() {
		if res.Err != nil {
			l.notify("Replay not saved: "+replayReason(res.Err), true)
			continue
		}
		l.notify(fmt.Sprintf("Replay saved: %.1f s, %d frames (%s)", res.Duration.Seconds(), res.Frames, res.Session), false)
	}
}

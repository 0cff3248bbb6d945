package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"time"

	"github.com/go-gl/gl/v4.1-core/gl"
	xdraw "golang.org/x/image/draw"

	"github.com/skyloop-engine/skyloop/engine/saves"
	"github.com/skyloop-engine/skyloop/engine/spool"
)

// SaveWatcher is implemented by a game that wants to hear when its saves
// change from outside — another device's version arrived and was merged,
// or a conflict needs the player (policy manual). The engine calls it on
// the game's goroutine, just before an Update, never during Draw.
type SaveWatcher interface {
	SavesChanged(changes []saves.Change)
}

// Saves returns the running game's save store: slots kept on local disk
// and synced through every sink (see engine/saves). Call it from Update,
// Draw or Finish. The first call opens the store (and, when capture is
// off, the spool and the sinks' plugins, in the background), so a game
// that keeps no data pays nothing; call it early, e.g. in the first
// Update. It is nil when no game runs, when saves are off (saves.enabled
// = false, or Options.Capture set by a test), or when the store cannot be
// opened (logged: e.g. another copy of the game runs for the same player).
func Saves() *saves.Store {
	if current == nil {
		return nil
	}
	o := current.opts
	if !o.savesTried {
		o.savesTried = true
		store, err := openSaves(o)
		if err != nil {
			o.Logger.Error("saves: not available in this run; the game plays without them", "err", err)
		}
		o.saves = store
	}
	return o.saves
}

// openSaves opens the player's save store as the config says: local under
// saves.dir, versions handed to the spool, other devices' read from every
// sink.
func openSaves(opts *Options) (*saves.Store, error) {
	cfg := opts.config
	if cfg == nil || !cfg.Saves.Enabled {
		return nil, nil
	}
	sc := cfg.Saves
	policy, err := saves.ParsePolicy(sc.Policy)
	if err != nil {
		return nil, err
	}
	so := saves.Options{
		Dir: sc.Dir, Game: gameName(opts), Player: cfg.Player, DeviceName: sc.Device,
		Poll: time.Duration(sc.PollSeconds * float64(time.Second)), Policy: policy, History: sc.History,
		MaxSlotBytes: int64(sc.MaxSlotMB * (1 << 20)), MaxGameBytes: int64(sc.MaxGameMB * (1 << 20)),
		Logger: opts.Logger, Merge: opts.SaveMerge,
	}
	if sc.PassphraseEnv != "" {
		so.Passphrase = os.Getenv(sc.PassphraseEnv)
		if so.Passphrase == "" {
			return nil, fmt.Errorf("engine: saves.passphrase_env = %q, but that environment variable is empty: set it to the passphrase, or remove passphrase_env to keep saves unencrypted", sc.PassphraseEnv)
		}
	}
	if opts.storage == nil && len(cfg.Sinks) > 0 {
		// Capture is off: the saves have the spool and the sinks to
		// themselves. Sinks start in the background; one that is down or
		// misconfigured only delays the saves' delivery (logged).
		st, err := openStorage(*cfg, gameName(opts), false, opts.Logger)
		if err != nil {
			return nil, err
		}
		opts.storage = st
		if st != nil {
			go st.reportSinks()
		}
	}
	if st := opts.storage; st != nil {
		for _, s := range st.sinks {
			so.Remotes = append(so.Remotes, s)
		}
		so.Upload = func(ctx context.Context, key string, data []byte) error {
			return st.sp.Accept(ctx, spool.Item{Key: key, Kind: spool.KindSave, Data: data})
		}
	}
	store, err := saves.Open(so)
	if err != nil {
		if errors.Is(err, saves.ErrLocked) {
			return nil, fmt.Errorf("engine: %w", err)
		}
		return nil, fmt.Errorf("engine: saves: %w", err)
	}
	return store, nil
}

// deliverSaveChanges hands the store's changes to the game, if it wants
// them, before the frame's Updates.
func (l *loop) deliverSaveChanges() {
	store := l.opts.saves
	if store == nil {
		return
	}
	select {
	case <-store.Changes():
	default:
		return
	}
	changes := store.TakeChanges()
	if w, ok := l.game.(SaveWatcher); ok && len(changes) > 0 {
		w.SavesChanged(changes)
	}
}

// closeSaves waits (at most wait) for the saves made to be in the spool,
// then closes the store; what is not handed over yet stays in its outbox
// for the next start.
func closeSaves(s *saves.Store, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), max(wait, time.Second))
	defer cancel()
	ferr := s.Flush(ctx)
	return errors.Join(ferr, s.Close())
}

// Thumbnail returns the last frame the game drew (its logical screen),
// scaled to fit within maxW×maxH, as a PNG: what saves.Meta.Thumbnail
// wants, so a player can tell saves apart by a picture. Call it from
// Update or Finish (on the game's goroutine, between frames); it reads the
// frame back synchronously, which costs about a millisecond at 1080p.
func Thumbnail(maxW, maxH int) ([]byte, error) {
	if current == nil {
		return nil, errors.New("engine: Thumbnail: no game is running (call it from Update or Finish)")
	}
	if maxW < 1 || maxH < 1 {
		return nil, fmt.Errorf("engine: Thumbnail(%d, %d): the size must be positive", maxW, maxH)
	}
	fbo, w, h := current.renderer.ScreenFramebuffer()
	if fbo == 0 || w == 0 || h == 0 {
		return nil, errors.New("engine: Thumbnail: no frame drawn yet")
	}
	full := image.NewRGBA(image.Rect(0, 0, w, h))
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, fbo)
	gl.ReadPixels(0, 0, int32(w), int32(h), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(full.Pix))
	scale := min(1, float64(maxW)/float64(w), float64(maxH)/float64(h))
	tw, th := max(1, int(float64(w)*scale+0.5)), max(1, int(float64(h)*scale+0.5))
	small := image.NewRGBA(image.Rect(0, 0, tw, th))
	xdraw.ApproxBiLinear.Scale(small, small.Bounds(), full, full.Bounds(), xdraw.Src, nil)
	var buf bytes.Buffer
	if err := png.Encode(&buf, small); err != nil {
		return nil, fmt.Errorf("engine: Thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

package engine

import (
	"fmt"
	"image"
	"image/color"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/engine/gfx"
)

// What the engine draws over the game, straight onto the window after the
// frame was presented and read back, so recordings and replay clips never
// contain it: the F3 overlay (frame and capture statistics), the REC
// indicator and notices (a replay saved, or why not).

const (
	hudMargin = 4 // from the window's edges to a box
	hudPad    = 4 // from a box's edge to its text
	// recOffShown is how long "REC off" stays up after recording stops.
	recOffShown = 2 * time.Second
	// noticeShown and failureShown are how long a notice stays up.
	noticeShown  = 3 * time.Second
	failureShown = 5 * time.Second
)

var (
	hudBackdrop = color.RGBA{0, 0, 0, 210} // premultiplied: black at 82 %
	hudText     = color.RGBA{0, 255, 128, 255}
	recRed      = color.RGBA{230, 0, 0, 255}
	recOffText  = color.RGBA{200, 200, 200, 255}
	noticeText  = color.RGBA{255, 255, 255, 255}
	failureText = color.RGBA{255, 170, 0, 255}
)

// overlaySizes are the font sizes the overlay tries, largest first, until
// its text fits the window.
var overlaySizes = []float64{13, 12, 11, 10, 9, 8, 7}

// hudState is what the overlay and the REC indicator keep between frames.
type hudState struct {
	// recToggled: recording was switched on or off during this run (F9,
	// SetRecording); from then on the indicator shows while recording.
	recToggled bool
	offUntil   time.Duration // show "REC off" until this time on opts.Clock
	// startUntil: a recording that began with the run shows "REC" until
	// this time, so the player knows they are recorded.
	startUntil time.Duration
	// FramesEncoded and dropped frames when the current session started,
	// to count a session's frames when it stops.
	encoded0, dropped0 uint64
	// notice is a one-line message in the window's bottom-left corner
	// until noticeUntil; failed shows it in the failure colour.
	notice      string
	noticeUntil time.Duration
	failed      bool
}

// notify shows msg in the window for a few seconds (longer for a failure),
// replacing the notice up.
func (l *loop) notify(msg string, failed bool) {
	l.hud.notice, l.hud.failed = msg, failed
	shown := noticeShown
	if failed {
		shown = failureShown
	}
	l.hud.noticeUntil = l.opts.Clock() + shown
}

// currentNotice is the notice to show now, "" for none.
func (l *loop) currentNotice() string {
	if l.hud.notice == "" || l.opts.Clock() >= l.hud.noticeUntil {
		return ""
	}
	return l.hud.notice
}

// noticeLayout places notice in the bottom-left corner of a winW×winH
// window, wrapped to its width.
func noticeLayout(notice string, winW, winH int) overlayLayout {
	area := image.Rect(hudMargin, hudMargin, winW-hudMargin, winH-hudMargin)
	lay := layoutOverlay([]string{notice}, area)
	return lay.moveTo(image.Pt(lay.box.Min.X, area.Max.Y-lay.box.Dy()))
}

// moveTo places the layout's box with its top-left corner at p.
func (lay overlayLayout) moveTo(p image.Point) overlayLayout {
	lay.box = lay.box.Add(p.Sub(lay.box.Min))
	return lay
}

// setRecording switches recording on (a new session) or off for the record
// hotkey (F9) and SetRecording, by names which in the log line, and shows
// the change in the REC indicator.
func (l *loop) setRecording(on bool, by string) error {
	was, session := l.rec.Recording(), l.rec.Session()
	if err := l.rec.SetRecording(on); err != nil {
		return err
	}
	if l.rec.Recording() == was {
		return nil
	}
	l.hud.recToggled = true
	m := l.rec.Metrics()
	if on {
		l.hud.offUntil = 0
		l.hud.encoded0, l.hud.dropped0 = m.FramesEncoded, m.Dropped()
		l.opts.Logger.Info("recording started", "session", l.rec.Session(), "by", by)
		return nil
	}
	l.hud.offUntil = l.opts.Clock() + recOffShown
	l.opts.Logger.Info("recording stopped", "session", session,
		"frames", m.FramesEncoded-l.hud.encoded0, "dropped", m.Dropped()-l.hud.dropped0, "by", by)
	return nil
}

// drawHUD draws the overlay and the REC indicator, when shown, on the
// winW×winH window.
func (l *loop) drawHUD(winW, winH int) {
	rec := l.recIndicator()
	notice := l.currentNotice()
	if !l.overlay && rec == "" && notice == "" {
		return
	}
	c := l.renderer.BeginOverlay(winW, winH).(*gfx.Canvas)
	var recBox image.Rectangle
	if rec != "" {
		recBox = drawRecIndicator(c, rec, winW)
	}
	var noticeBox image.Rectangle
	if notice != "" {
		lay := noticeLayout(notice, winW, winH)
		col := noticeText
		if l.hud.failed {
			col = failureText
		}
		lay.drawIn(c, col)
		noticeBox = lay.box
	}
	if l.overlay {
		area := image.Rect(hudMargin, hudMargin, winW-hudMargin, winH-hudMargin)
		if notice != "" && !noticeBox.Empty() {
			area.Max.Y = noticeBox.Min.Y - hudMargin // above the notice
		}
		lay := layoutOverlay(l.overlayLines(), area)
		if lay.box.Overlaps(recBox) {
			area.Min.Y = recBox.Max.Y + hudMargin // below the indicator
			lay = layoutOverlay(l.overlayLines(), area)
		}
		lay.draw(c)
	}
	l.renderer.End()
}

// recIndicator is the indicator's text now: "REC" while recording, "REC
// off" for a moment after it stopped, "" when none shows.
func (l *loop) recIndicator() string {
	switch {
	case l.rec == nil:
		return ""
	case l.rec.Recording() && (l.hud.recToggled || l.opts.Clock() < l.hud.startUntil):
		return "REC"
	case !l.hud.recToggled:
		return ""
	case l.opts.Clock() < l.hud.offUntil:
		return "REC off"
	}
	return ""
}

// recStartShown is how long a recording that starts with the game shows
// its REC indicator.
const recStartShown = 3 * time.Second

func recFace() *gfx.Face { return gfx.MonoFace(13) }

const recDot = 5 // radius of the red dot

// recBoxWidth is the width of the indicator's box (the widest text).
func recBoxWidth() int {
	w, _ := recFace().Measure("REC off")
	return int(w) + 2*recDot + 3*hudPad
}

// recLayout places the indicator in the window's top-right corner.
func recLayout(winW int) (box image.Rectangle, dot image.Point, textAt image.Point) {
	face := recFace()
	h := int(face.LineHeight()) + 2*hudPad
	bw := recBoxWidth()
	box = image.Rect(winW-hudMargin-bw, hudMargin, winW-hudMargin, hudMargin+h)
	dot = image.Pt(box.Min.X+hudPad+recDot, box.Min.Y+h/2)
	textAt = image.Pt(dot.X+recDot+hudPad, box.Min.Y+hudPad)
	return box, dot, textAt
}

// drawRecIndicator draws the indicator with text ("REC" or "REC off") and
// returns its box.
func drawRecIndicator(c *gfx.Canvas, text string, winW int) image.Rectangle {
	box, dot, at := recLayout(winW)
	fillBox(c, box, hudBackdrop)
	col := recOffText
	if text == "REC" {
		col = color.RGBA{255, 255, 255, 255}
		c.FillCircle(float64(dot.X), float64(dot.Y), recDot, recRed)
	} else {
		c.StrokeCircle(float64(dot.X), float64(dot.Y), recDot, 1.5, recOffText)
	}
	c.Text(text, recFace(), float64(at.X), float64(at.Y), col)
	return box
}

func fillBox(c *gfx.Canvas, r image.Rectangle, col color.Color) {
	c.FillRect(float64(r.Min.X), float64(r.Min.Y), float64(r.Dx()), float64(r.Dy()), col)
}

// overlayLines is the overlay's text: frame rate and draw counts, then the
// capture state and counters.
func (l *loop) overlayLines() []string {
	calls, verts := l.renderer.LastStats()
	lines := []string{fmt.Sprintf("fps %.1f  tps %d  frame %d  draws %d  vertices %d", l.fps, l.opts.TPS, l.stats.frames(), calls, verts)}
	if l.rec != nil {
		state := "off"
		if l.rec.Recording() {
			state = "on, " + l.rec.Mode().String() + ", session " + l.rec.Session()
		}
		if l.rec.Replaying() {
			state += "; replay buffer on"
		}
		lines = append(lines, "capture "+state, l.captureMetrics().String())
	}
	return lines
}

// overlayLayout is the overlay placed in a window.
type overlayLayout struct {
	face  *gfx.Face
	lines []string        // wrapped to fit
	box   image.Rectangle // the backdrop
}

// layoutOverlay fits lines into area: at the largest of overlaySizes at
// which the text, wrapped to the area's width, fits its height. When even
// the smallest does not fit, it keeps the lines that do.
func layoutOverlay(lines []string, area image.Rectangle) overlayLayout {
	maxW := float64(area.Dx() - 2*hudPad)
	maxH := float64(area.Dy() - 2*hudPad)
	var lay overlayLayout
	for _, size := range overlaySizes {
		face := gfx.MonoFace(size)
		var wrapped []string
		for _, line := range lines {
			wrapped = append(wrapped, wrapText(line, face, maxW)...)
		}
		lay = overlayLayout{face: face, lines: wrapped}
		if float64(len(wrapped))*face.LineHeight() <= maxH {
			break
		}
	}
	if fit := int(maxH / lay.face.LineHeight()); fit < len(lay.lines) {
		lay.lines = lay.lines[:max(fit, 0)]
	}
	if len(lay.lines) == 0 {
		return lay
	}
	w, h := lay.face.Measure(strings.Join(lay.lines, "\n"))
	lay.box = image.Rect(area.Min.X, area.Min.Y, area.Min.X+int(w+0.999)+2*hudPad, area.Min.Y+int(h+0.999)+2*hudPad)
	return lay
}

func (lay overlayLayout) draw(c *gfx.Canvas) { lay.drawIn(c, hudText) }

func (lay overlayLayout) drawIn(c *gfx.Canvas, col color.Color) {
	if len(lay.lines) == 0 {
		return
	}
	fillBox(c, lay.box, hudBackdrop)
	c.Text(strings.Join(lay.lines, "\n"), lay.face, float64(lay.box.Min.X+hudPad), float64(lay.box.Min.Y+hudPad), col)
}

// wrapText breaks line into lines no wider than maxW: between the fields
// that two spaces separate when it can, else between words, else inside a
// word.
func wrapText(line string, face *gfx.Face, maxW float64) []string {
	fits := func(s string) bool { w, _ := face.Measure(s); return w <= maxW }
	if fits(line) {
		return []string{line}
	}
	var out []string
	cur := ""
	push := func(piece, sep string) {
		if cur != "" && fits(cur+sep+piece) {
			cur += sep + piece
			return
		}
		if cur != "" {
			out = append(out, cur)
		}
		cur = piece
	}
	for _, field := range strings.Split(line, "  ") {
		field = strings.TrimSpace(field)
		switch {
		case field == "":
		case fits(field):
			push(field, "  ")
		default:
			for i, word := range strings.Fields(field) {
				sep := " "
				if i == 0 {
					sep = "  "
				}
				for _, piece := range splitWord(word, fits) {
					push(piece, sep)
				}
			}
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// splitWord cuts word into the longest pieces that fit (at least one rune
// each).
func splitWord(word string, fits func(string) bool) []string {
	var pieces []string
	rs := []rune(word)
	for len(rs) > 0 {
		n := 1
		for n < len(rs) && fits(string(rs[:n+1])) {
			n++
		}
		pieces = append(pieces, string(rs[:n]))
		rs = rs[n:]
	}
	return pieces
}

// updateFPS keeps a smoothed frame rate for the overlay.
func (l *loop) updateFPS(frameTime time.Duration) {
	if frameTime <= 0 {
		return
	}
	inst := 1 / frameTime.Seconds()
	if l.fps == 0 {
		l.fps = inst
	} else {
		l.fps += (inst - l.fps) * 0.05
	}
}

package input

import "github.com/skyloop-engine/skyloop/engine/internal/bridge"

// buttonState tracks one key or button across ticks.
type buttonState struct {
	down         bool // after the events applied this tick
	justPressed  bool
	justReleased bool
}

func (b *buttonState) apply(down bool) {
	if down && !b.down {
		b.justPressed = true
	}
	if !down && b.down {
		b.justReleased = true
	}
	b.down = down
}

type event struct {
	kind  eventKind
	code  int
	down  bool
	x, y  float64
	runes rune
}

type eventKind uint8

const (
	evKey eventKind = iota
	evMouseButton
	evCursor
	evWheel
	evChar
)

type gamepad struct {
	connected bool
	name      string
	buttons   [gamepadButtons]buttonState
	axes      [gamepadAxes]float32
}

// State is the input a game sees during one Update. The engine owns it and
// feeds it window events; a game only reads it. Events that arrive between
// ticks take effect together at the start of the next tick. Game tests drive
// a State with engine/input/inputtest.
type State struct {
	pending []event

	keys     [int(KeyLast) + 1]buttonState
	mouse    [int(mouseLast) + 1]buttonState
	cursorX  float64
	cursorY  float64
	wheelX   float64
	wheelY   float64
	chars    []rune
	gamepads [MaxGamepads]gamepad
	tick     uint64
}

func init() {
	bridge.NewInput = func() (any, bridge.Input) {
		s := &State{}
		return s, driver{s}
	}
}

// driver is the engine's side of a State (bridge.Input).
type driver struct{ s *State }

func (d driver) Key(k int, down bool)         { d.s.recordKey(Key(k), down) }
func (d driver) MouseButton(b int, down bool) { d.s.recordMouseButton(MouseButton(b), down) }
func (d driver) Cursor(x, y float64)          { d.s.recordCursor(x, y) }
func (d driver) Wheel(dx, dy float64)         { d.s.recordWheel(dx, dy) }
func (d driver) Char(r rune)                  { d.s.recordChar(r) }
func (d driver) BeginTick()                   { d.s.beginTick() }
func (d driver) Gamepad(id int, connected bool, name string, buttons []bool, axes []float32) {
	d.s.setGamepad(id, connected, name, buttons, axes)
}

// recordKey records a key press or release.
func (s *State) recordKey(k Key, down bool) {
	if k < 0 || k > KeyLast {
		return
	}
	s.pending = append(s.pending, event{kind: evKey, code: int(k), down: down})
}

// recordMouseButton records a mouse button press or release.
func (s *State) recordMouseButton(b MouseButton, down bool) {
	if b < 0 || b > mouseLast {
		return
	}
	s.pending = append(s.pending, event{kind: evMouseButton, code: int(b), down: down})
}

// recordCursor records the cursor position in logical screen coordinates.
func (s *State) recordCursor(x, y float64) {
	s.pending = append(s.pending, event{kind: evCursor, x: x, y: y})
}

// recordWheel records a scroll of (dx, dy).
func (s *State) recordWheel(dx, dy float64) {
	s.pending = append(s.pending, event{kind: evWheel, x: dx, y: dy})
}

// recordChar records a typed character (text input, layout-aware).
func (s *State) recordChar(r rune) {
	s.pending = append(s.pending, event{kind: evChar, runes: r})
}

// setGamepad sets a gamepad's state as polled; connected=false removes it.
// buttons and axes are indexed by GamepadButton and GamepadAxis.
func (s *State) setGamepad(id int, connected bool, name string, buttons []bool, axes []float32) {
	if id < 0 || id >= MaxGamepads {
		return
	}
	g := &s.gamepads[id]
	if !connected {
		*g = gamepad{}
		return
	}
	g.connected, g.name = true, name
	for i := range g.buttons {
		g.buttons[i].apply(i < len(buttons) && buttons[i])
	}
	g.axes = [gamepadAxes]float32{}
	copy(g.axes[:], axes)
}

// beginTick applies the events recorded since the previous tick. The engine
// calls it before each Update; gamepads are polled right after it.
func (s *State) beginTick() {
	s.tick++
	for i := range s.keys {
		s.keys[i].justPressed, s.keys[i].justReleased = false, false
	}
	for i := range s.mouse {
		s.mouse[i].justPressed, s.mouse[i].justReleased = false, false
	}
	for i := range s.gamepads {
		for j := range s.gamepads[i].buttons {
			s.gamepads[i].buttons[j].justPressed, s.gamepads[i].buttons[j].justReleased = false, false
		}
	}
	s.wheelX, s.wheelY = 0, 0
	s.chars = s.chars[:0]
	for _, e := range s.pending {
		switch e.kind {
		case evKey:
			s.keys[e.code].apply(e.down)
		case evMouseButton:
			s.mouse[e.code].apply(e.down)
		case evCursor:
			s.cursorX, s.cursorY = e.x, e.y
		case evWheel:
			s.wheelX += e.x
			s.wheelY += e.y
		case evChar:
			s.chars = append(s.chars, e.runes)
		}
	}
	s.pending = s.pending[:0]
}

// Tick is the number of ticks so far (1 in the first Update).
func (s *State) Tick() uint64 { return s.tick }

func (s *State) key(k Key) buttonState {
	if k < 0 || k > KeyLast {
		return buttonState{}
	}
	return s.keys[k]
}

// Pressed reports whether k is held down.
func (s *State) Pressed(k Key) bool { return s.key(k).down }

// JustPressed reports whether k went down since the previous tick.
func (s *State) JustPressed(k Key) bool { return s.key(k).justPressed }

// JustReleased reports whether k went up since the previous tick.
func (s *State) JustReleased(k Key) bool { return s.key(k).justReleased }

// PressedKeys returns the keys held down.
func (s *State) PressedKeys() []Key {
	var ks []Key
	for i, b := range s.keys {
		if b.down {
			ks = append(ks, Key(i))
		}
	}
	return ks
}

func (s *State) button(b MouseButton) buttonState {
	if b < 0 || b > mouseLast {
		return buttonState{}
	}
	return s.mouse[b]
}

// MousePressed reports whether mouse button b is held down.
func (s *State) MousePressed(b MouseButton) bool { return s.button(b).down }

// MouseJustPressed reports whether b went down since the previous tick.
func (s *State) MouseJustPressed(b MouseButton) bool { return s.button(b).justPressed }

// MouseJustReleased reports whether b went up since the previous tick.
func (s *State) MouseJustReleased(b MouseButton) bool { return s.button(b).justReleased }

// Cursor returns the mouse position in logical screen coordinates (it may lie
// outside the screen, in the letterbox bars or beyond the window).
func (s *State) Cursor() (x, y float64) { return s.cursorX, s.cursorY }

// Wheel returns the scrolling since the previous tick.
func (s *State) Wheel() (dx, dy float64) { return s.wheelX, s.wheelY }

// Chars returns the characters typed since the previous tick, for text
// entry. The slice is reused: copy it to keep it.
func (s *State) Chars() []rune { return s.chars }

// Gamepads returns the ids of the connected gamepads.
func (s *State) Gamepads() []int {
	var ids []int
	for i, g := range s.gamepads {
		if g.connected {
			ids = append(ids, i)
		}
	}
	return ids
}

// GamepadName returns the name of gamepad id, "" when not connected.
func (s *State) GamepadName(id int) string {
	if id < 0 || id >= MaxGamepads {
		return ""
	}
	return s.gamepads[id].name
}

func (s *State) gamepadButton(id int, b GamepadButton) buttonState {
	if id < 0 || id >= MaxGamepads || b < 0 || int(b) >= gamepadButtons {
		return buttonState{}
	}
	return s.gamepads[id].buttons[b]
}

// GamepadPressed reports whether button b of gamepad id is held.
func (s *State) GamepadPressed(id int, b GamepadButton) bool { return s.gamepadButton(id, b).down }

// GamepadJustPressed reports whether button b of gamepad id went down since
// the previous tick.
func (s *State) GamepadJustPressed(id int, b GamepadButton) bool {
	return s.gamepadButton(id, b).justPressed
}

// GamepadJustReleased reports whether button b of gamepad id went up since
// the previous tick.
func (s *State) GamepadJustReleased(id int, b GamepadButton) bool {
	return s.gamepadButton(id, b).justReleased
}

// GamepadAxisValue returns axis a of gamepad id in [-1, 1] (0 when absent).
func (s *State) GamepadAxisValue(id int, a GamepadAxis) float32 {
	if id < 0 || id >= MaxGamepads || a < 0 || int(a) >= gamepadAxes {
		return 0
	}
	return s.gamepads[id].axes[a]
}

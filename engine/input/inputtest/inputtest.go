package inputtest

import (
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/internal/bridge"
)

// Enough entries for every GamepadButton and GamepadAxis; input ignores the
// rest.
const (
	padButtons = 32
	padAxes    = 16
)

type pad struct {
	connected bool
	name      string
	buttons   [padButtons]bool
	axes      [padAxes]float32
}

// Driver owns an input.State and feeds it events. The zero value is not
// usable; call New. A Driver is not safe for concurrent use.
type Driver struct {
	state *input.State
	in    bridge.Input
	pads  [input.MaxGamepads]pad
}

// New returns a driver of a fresh State: nothing pressed, no tick yet.
func New() *Driver {
	st, in := bridge.NewInput()
	return &Driver{state: st.(*input.State), in: in}
}

// State is the driven state, to pass to Update. Events show in it only
// after the next Tick.
func (d *Driver) State() *input.State { return d.state }

// Tick starts the next tick as the engine does before each Update: it
// applies the events queued since the previous Tick, polls the gamepads,
// and returns the State.
func (d *Driver) Tick() *input.State {
	d.in.BeginTick()
	for id := range d.pads {
		p := &d.pads[id]
		d.in.Gamepad(id, p.connected, p.name, p.buttons[:], p.axes[:])
	}
	return d.state
}

// Press queues a key press; the key stays down until Release.
func (d *Driver) Press(k input.Key) { d.in.Key(int(k), true) }

// Release queues a key release.
func (d *Driver) Release(k input.Key) { d.in.Key(int(k), false) }

// Tap queues a press and a release: the next tick sees the key just
// pressed and just released, and not held.
func (d *Driver) Tap(k input.Key) {
	d.Press(k)
	d.Release(k)
}

// MousePress queues a mouse button press.
func (d *Driver) MousePress(b input.MouseButton) { d.in.MouseButton(int(b), true) }

// MouseRelease queues a mouse button release.
func (d *Driver) MouseRelease(b input.MouseButton) { d.in.MouseButton(int(b), false) }

// Cursor queues a cursor move to (x, y) in logical screen coordinates.
func (d *Driver) Cursor(x, y float64) { d.in.Cursor(x, y) }

// Wheel queues a scroll of (dx, dy); a tick sees the sum of its scrolls.
func (d *Driver) Wheel(dx, dy float64) { d.in.Wheel(dx, dy) }

// Type queues the characters of s as typed text (State.Chars).
func (d *Driver) Type(s string) {
	for _, r := range s {
		d.in.Char(r)
	}
}

func (d *Driver) pad(id int) *pad {
	if id < 0 || id >= len(d.pads) {
		return nil
	}
	return &d.pads[id]
}

// ConnectGamepad connects gamepad id (0 ≤ id < input.MaxGamepads) under
// name, with no button held and every axis at 0 (unless it was already
// connected: then only the name changes). It shows from the next Tick.
func (d *Driver) ConnectGamepad(id int, name string) {
	if p := d.pad(id); p != nil {
		p.connected, p.name = true, name
	}
}

// DisconnectGamepad removes gamepad id from the next Tick.
func (d *Driver) DisconnectGamepad(id int) {
	if p := d.pad(id); p != nil {
		*p = pad{}
	}
}

// GamepadButton holds (down) or releases button b of gamepad id from the
// next Tick on, connecting the gamepad (named "gamepad") if needed.
func (d *Driver) GamepadButton(id int, b input.GamepadButton, down bool) {
	p := d.connected(id)
	if p != nil && b >= 0 && int(b) < padButtons {
		p.buttons[b] = down
	}
}

// GamepadAxis sets axis a of gamepad id to v (in [-1, 1]) from the next
// Tick on, connecting the gamepad (named "gamepad") if needed.
func (d *Driver) GamepadAxis(id int, a input.GamepadAxis, v float32) {
	p := d.connected(id)
	if p != nil && a >= 0 && int(a) < padAxes {
		p.axes[a] = v
	}
}

func (d *Driver) connected(id int) *pad {
	p := d.pad(id)
	if p != nil && !p.connected {
		p.connected, p.name = true, "gamepad"
	}
	return p
}

package inputtest_test

import (
	"testing"

	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
)

func TestKeysTakeEffectAtTheNextTick(t *testing.T) {
	d := inputtest.New()
	s := d.State()
	if s.Tick() != 0 || s.Pressed(input.KeySpace) {
		t.Fatal("a new driver's state is not empty")
	}
	d.Press(input.KeySpace)
	if s.Pressed(input.KeySpace) {
		t.Fatal("a press showed before Tick")
	}
	if got := d.Tick(); got != s || s.Tick() != 1 {
		t.Fatalf("Tick returned %p (state %p), tick %d", got, s, s.Tick())
	}
	if !s.Pressed(input.KeySpace) || !s.JustPressed(input.KeySpace) {
		t.Fatal("tick 1: space not just pressed")
	}
	d.Tick()
	if !s.Pressed(input.KeySpace) || s.JustPressed(input.KeySpace) {
		t.Fatal("tick 2: space must be held, not just pressed")
	}
	d.Release(input.KeySpace)
	d.Tick()
	if s.Pressed(input.KeySpace) || !s.JustReleased(input.KeySpace) {
		t.Fatal("tick 3: space not just released")
	}
	d.Tap(input.KeyA)
	d.Tick()
	if !s.JustPressed(input.KeyA) || !s.JustReleased(input.KeyA) || s.Pressed(input.KeyA) {
		t.Fatal("a tap between ticks must show as just pressed and just released, not held")
	}
}

func TestMouseWheelText(t *testing.T) {
	d := inputtest.New()
	d.Cursor(12, 34)
	d.MousePress(input.MouseRight)
	d.Wheel(0, 1)
	d.Wheel(0.5, 2)
	d.Type("hé!")
	s := d.Tick()
	if x, y := s.Cursor(); x != 12 || y != 34 {
		t.Fatalf("cursor %v,%v", x, y)
	}
	if !s.MouseJustPressed(input.MouseRight) || s.MousePressed(input.MouseLeft) {
		t.Fatal("right button not just pressed, or left pressed")
	}
	if dx, dy := s.Wheel(); dx != 0.5 || dy != 3 {
		t.Fatalf("wheel %v,%v, want the tick's sum 0.5,3", dx, dy)
	}
	if string(s.Chars()) != "hé!" {
		t.Fatalf("chars %q", string(s.Chars()))
	}
	d.MouseRelease(input.MouseRight)
	s = d.Tick()
	if !s.MouseJustReleased(input.MouseRight) || len(s.Chars()) != 0 {
		t.Fatal("tick 2: release not seen, or chars kept")
	}
	if _, dy := s.Wheel(); dy != 0 {
		t.Fatal("wheel must reset each tick")
	}
}

func TestGamepadsArePolledEachTick(t *testing.T) {
	d := inputtest.New()
	d.GamepadAxis(1, input.GamepadLeftY, 0.75)
	if len(d.State().Gamepads()) != 0 {
		t.Fatal("gamepad shown before Tick")
	}
	s := d.Tick()
	if ids := s.Gamepads(); len(ids) != 1 || ids[0] != 1 || s.GamepadName(1) != "gamepad" {
		t.Fatalf("gamepads %v named %q", ids, s.GamepadName(1))
	}
	if s.GamepadAxisValue(1, input.GamepadLeftY) != 0.75 {
		t.Fatal("axis not applied")
	}
	d.GamepadButton(1, input.GamepadStart, true)
	s = d.Tick()
	if !s.GamepadJustPressed(1, input.GamepadStart) || s.GamepadAxisValue(1, input.GamepadLeftY) != 0.75 {
		t.Fatal("button not just pressed, or the axis was lost")
	}
	s = d.Tick() // polled again: still held, no longer new
	if !s.GamepadPressed(1, input.GamepadStart) || s.GamepadJustPressed(1, input.GamepadStart) {
		t.Fatal("a held gamepad button must stay pressed and stop being just pressed")
	}
	d.GamepadButton(1, input.GamepadStart, false)
	s = d.Tick()
	if !s.GamepadJustReleased(1, input.GamepadStart) {
		t.Fatal("release not seen")
	}
	d.ConnectGamepad(3, "pad three")
	d.DisconnectGamepad(1)
	s = d.Tick()
	if ids := s.Gamepads(); len(ids) != 1 || ids[0] != 3 || s.GamepadName(3) != "pad three" || s.GamepadAxisValue(1, input.GamepadLeftY) != 0 {
		t.Fatalf("after connecting 3 and disconnecting 1: gamepads %v", ids)
	}
	// Out-of-range ids and buttons are ignored, not a panic.
	d.GamepadButton(99, input.GamepadA, true)
	d.GamepadAxis(-1, input.GamepadLeftX, 1)
	d.ConnectGamepad(input.MaxGamepads, "x")
	d.Tick()
}

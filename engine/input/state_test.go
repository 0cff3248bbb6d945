package input

import "testing"

func TestKeyTransitionsPerTick(t *testing.T) {
	s := &State{}
	s.beginTick()
	if s.Pressed(KeySpace) || s.JustPressed(KeySpace) {
		t.Fatal("space reported before any event")
	}

	s.recordKey(KeySpace, true)
	// Not visible until the next tick: Update sees a consistent state.
	if s.Pressed(KeySpace) {
		t.Fatal("event applied before beginTick")
	}
	s.beginTick()
	if !s.Pressed(KeySpace) || !s.JustPressed(KeySpace) || s.JustReleased(KeySpace) {
		t.Fatalf("tick 2: pressed=%v just=%v released=%v", s.Pressed(KeySpace), s.JustPressed(KeySpace), s.JustReleased(KeySpace))
	}
	s.beginTick() // held, no new events
	if !s.Pressed(KeySpace) || s.JustPressed(KeySpace) {
		t.Fatal("tick 3: JustPressed must last exactly one tick")
	}
	s.recordKey(KeySpace, false)
	s.beginTick()
	if s.Pressed(KeySpace) || !s.JustReleased(KeySpace) || s.JustPressed(KeySpace) {
		t.Fatal("tick 4: release not reported")
	}
	s.beginTick()
	if s.JustReleased(KeySpace) {
		t.Fatal("tick 5: JustReleased must last exactly one tick")
	}
}

func TestTapBetweenTicksIsNotLost(t *testing.T) {
	s := &State{}
	s.recordKey(KeyA, true)
	s.recordKey(KeyA, false)
	s.beginTick()
	if !s.JustPressed(KeyA) || !s.JustReleased(KeyA) || s.Pressed(KeyA) {
		t.Fatalf("tap: just=%v released=%v down=%v", s.JustPressed(KeyA), s.JustReleased(KeyA), s.Pressed(KeyA))
	}
}

func TestKeyRepeatIsNotAPress(t *testing.T) {
	s := &State{}
	s.recordKey(KeyLeft, true)
	s.beginTick()
	s.recordKey(KeyLeft, true) // OS auto-repeat arrives as another "down"
	s.beginTick()
	if s.JustPressed(KeyLeft) || !s.Pressed(KeyLeft) {
		t.Fatal("auto-repeat reported as a new press")
	}
}

func TestMouseWheelCharsPerTick(t *testing.T) {
	s := &State{}
	s.recordCursor(10, 20)
	s.recordMouseButton(MouseLeft, true)
	s.recordWheel(0, 1)
	s.recordWheel(0, 2)
	s.recordChar('h')
	s.recordChar('é')
	s.beginTick()
	if x, y := s.Cursor(); x != 10 || y != 20 {
		t.Fatalf("cursor = %v,%v", x, y)
	}
	if !s.MouseJustPressed(MouseLeft) || !s.MousePressed(MouseLeft) {
		t.Fatal("mouse press not reported")
	}
	if _, dy := s.Wheel(); dy != 3 {
		t.Fatalf("wheel dy = %v, want 3 (sum of the tick's events)", dy)
	}
	if got := string(s.Chars()); got != "hé" {
		t.Fatalf("chars = %q", got)
	}
	s.beginTick()
	if _, dy := s.Wheel(); dy != 0 || len(s.Chars()) != 0 || s.MouseJustPressed(MouseLeft) {
		t.Fatal("per-tick values must reset")
	}
	if x, _ := s.Cursor(); x != 10 {
		t.Fatal("cursor must persist")
	}
}

func TestGamepad(t *testing.T) {
	s := &State{}
	buttons := make([]bool, gamepadButtons)
	axes := make([]float32, gamepadAxes)
	buttons[GamepadA] = true
	axes[GamepadLeftX] = -0.5
	s.beginTick()
	s.setGamepad(2, true, "pad", buttons, axes)
	if ids := s.Gamepads(); len(ids) != 1 || ids[0] != 2 || s.GamepadName(2) != "pad" {
		t.Fatalf("gamepads = %v (%q)", ids, s.GamepadName(2))
	}
	if !s.GamepadJustPressed(2, GamepadA) || s.GamepadAxisValue(2, GamepadLeftX) != -0.5 {
		t.Fatal("gamepad state not applied")
	}
	s.beginTick()
	s.setGamepad(2, true, "pad", buttons, axes)
	if s.GamepadJustPressed(2, GamepadA) || !s.GamepadPressed(2, GamepadA) {
		t.Fatal("held gamepad button reported as new press")
	}
	// Short slices: missing buttons are up, missing axes are 0.
	s.beginTick()
	s.setGamepad(2, true, "pad", nil, []float32{0.25})
	if !s.GamepadJustReleased(2, GamepadA) || s.GamepadAxisValue(2, GamepadLeftX) != 0.25 || s.GamepadAxisValue(2, GamepadRightX) != 0 {
		t.Fatal("short button/axis slices not applied as released/zero")
	}
	s.beginTick()
	s.setGamepad(2, false, "", nil, nil)
	if len(s.Gamepads()) != 0 || s.GamepadPressed(2, GamepadA) {
		t.Fatal("disconnected gamepad still reported")
	}
	if s.Pressed(Key(-5)) || s.GamepadPressed(99, GamepadA) {
		t.Fatal("out-of-range ids must read as not pressed")
	}
}

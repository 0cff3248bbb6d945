package input

import "testing"

func TestKeyTransitionsPerTick(t *testing.T) {
	s := NewState()
	s.BeginTick()
	if s.Pressed(KeySpace) || s.JustPressed(KeySpace) {
		t.Fatal("space reported before any event")
	}

	s.RecordKey(KeySpace, true)
	// Not visible until the next tick: Update sees a consistent state.
	if s.Pressed(KeySpace) {
		t.Fatal("event applied before BeginTick")
	}
	s.BeginTick()
	if !s.Pressed(KeySpace) || !s.JustPressed(KeySpace) || s.JustReleased(KeySpace) {
		t.Fatalf("tick 2: pressed=%v just=%v released=%v", s.Pressed(KeySpace), s.JustPressed(KeySpace), s.JustReleased(KeySpace))
	}
	s.BeginTick() // held, no new events
	if !s.Pressed(KeySpace) || s.JustPressed(KeySpace) {
		t.Fatal("tick 3: JustPressed must last exactly one tick")
	}
	s.RecordKey(KeySpace, false)
	s.BeginTick()
	if s.Pressed(KeySpace) || !s.JustReleased(KeySpace) || s.JustPressed(KeySpace) {
		t.Fatal("tick 4: release not reported")
	}
	s.BeginTick()
	if s.JustReleased(KeySpace) {
		t.Fatal("tick 5: JustReleased must last exactly one tick")
	}
}

func TestTapBetweenTicksIsNotLost(t *testing.T) {
	s := NewState()
	s.RecordKey(KeyA, true)
	s.RecordKey(KeyA, false)
	s.BeginTick()
	if !s.JustPressed(KeyA) || !s.JustReleased(KeyA) || s.Pressed(KeyA) {
		t.Fatalf("tap: just=%v released=%v down=%v", s.JustPressed(KeyA), s.JustReleased(KeyA), s.Pressed(KeyA))
	}
}

func TestKeyRepeatIsNotAPress(t *testing.T) {
	s := NewState()
	s.RecordKey(KeyLeft, true)
	s.BeginTick()
	s.RecordKey(KeyLeft, true) // OS auto-repeat arrives as another "down"
	s.BeginTick()
	if s.JustPressed(KeyLeft) || !s.Pressed(KeyLeft) {
		t.Fatal("auto-repeat reported as a new press")
	}
}

func TestMouseWheelCharsPerTick(t *testing.T) {
	s := NewState()
	s.RecordCursor(10, 20)
	s.RecordMouseButton(MouseLeft, true)
	s.RecordWheel(0, 1)
	s.RecordWheel(0, 2)
	s.RecordChar('h')
	s.RecordChar('é')
	s.BeginTick()
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
	s.BeginTick()
	if _, dy := s.Wheel(); dy != 0 || len(s.Chars()) != 0 || s.MouseJustPressed(MouseLeft) {
		t.Fatal("per-tick values must reset")
	}
	if x, _ := s.Cursor(); x != 10 {
		t.Fatal("cursor must persist")
	}
}

func TestGamepad(t *testing.T) {
	s := NewState()
	var st GamepadState
	st.Buttons[GamepadA] = true
	st.Axes[GamepadLeftX] = -0.5
	s.BeginTick()
	s.SetGamepad(2, true, "pad", st)
	if ids := s.Gamepads(); len(ids) != 1 || ids[0] != 2 {
		t.Fatalf("gamepads = %v", ids)
	}
	if !s.GamepadJustPressed(2, GamepadA) || s.GamepadAxisValue(2, GamepadLeftX) != -0.5 {
		t.Fatal("gamepad state not applied")
	}
	s.BeginTick()
	s.SetGamepad(2, true, "pad", st)
	if s.GamepadJustPressed(2, GamepadA) || !s.GamepadPressed(2, GamepadA) {
		t.Fatal("held gamepad button reported as new press")
	}
	s.BeginTick()
	s.SetGamepad(2, false, "", GamepadState{})
	if len(s.Gamepads()) != 0 || s.GamepadPressed(2, GamepadA) {
		t.Fatal("disconnected gamepad still reported")
	}
	if s.Pressed(Key(-5)) || s.GamepadPressed(99, GamepadA) {
		t.Fatal("out-of-range ids must read as not pressed")
	}
}

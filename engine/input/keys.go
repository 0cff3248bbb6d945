package input

import "github.com/go-gl/glfw/v3.3/glfw"

// Key is a keyboard key, by its position on a US layout (GLFW's key codes).
type Key int

// Keys a game is likely to want; any GLFW key code is a valid Key.
const (
	KeyUnknown      Key = Key(glfw.KeyUnknown)
	KeySpace        Key = Key(glfw.KeySpace)
	KeyApostrophe   Key = Key(glfw.KeyApostrophe)
	KeyComma        Key = Key(glfw.KeyComma)
	KeyMinus        Key = Key(glfw.KeyMinus)
	KeyPeriod       Key = Key(glfw.KeyPeriod)
	KeySlash        Key = Key(glfw.KeySlash)
	Key0            Key = Key(glfw.Key0)
	Key1            Key = Key(glfw.Key1)
	Key2            Key = Key(glfw.Key2)
	Key3            Key = Key(glfw.Key3)
	Key4            Key = Key(glfw.Key4)
	Key5            Key = Key(glfw.Key5)
	Key6            Key = Key(glfw.Key6)
	Key7            Key = Key(glfw.Key7)
	Key8            Key = Key(glfw.Key8)
	Key9            Key = Key(glfw.Key9)
	KeyA            Key = Key(glfw.KeyA)
	KeyB            Key = Key(glfw.KeyB)
	KeyC            Key = Key(glfw.KeyC)
	KeyD            Key = Key(glfw.KeyD)
	KeyE            Key = Key(glfw.KeyE)
	KeyF            Key = Key(glfw.KeyF)
	KeyG            Key = Key(glfw.KeyG)
	KeyH            Key = Key(glfw.KeyH)
	KeyI            Key = Key(glfw.KeyI)
	KeyJ            Key = Key(glfw.KeyJ)
	KeyK            Key = Key(glfw.KeyK)
	KeyL            Key = Key(glfw.KeyL)
	KeyM            Key = Key(glfw.KeyM)
	KeyN            Key = Key(glfw.KeyN)
	KeyO            Key = Key(glfw.KeyO)
	KeyP            Key = Key(glfw.KeyP)
	KeyQ            Key = Key(glfw.KeyQ)
	KeyR            Key = Key(glfw.KeyR)
	KeyS            Key = Key(glfw.KeyS)
	KeyT            Key = Key(glfw.KeyT)
	KeyU            Key = Key(glfw.KeyU)
	KeyV            Key = Key(glfw.KeyV)
	KeyW            Key = Key(glfw.KeyW)
	KeyX            Key = Key(glfw.KeyX)
	KeyY            Key = Key(glfw.KeyY)
	KeyZ            Key = Key(glfw.KeyZ)
	KeyEscape       Key = Key(glfw.KeyEscape)
	KeyEnter        Key = Key(glfw.KeyEnter)
	KeyTab          Key = Key(glfw.KeyTab)
	KeyBackspace    Key = Key(glfw.KeyBackspace)
	KeyInsert       Key = Key(glfw.KeyInsert)
	KeyDelete       Key = Key(glfw.KeyDelete)
	KeyRight        Key = Key(glfw.KeyRight)
	KeyLeft         Key = Key(glfw.KeyLeft)
	KeyDown         Key = Key(glfw.KeyDown)
	KeyUp           Key = Key(glfw.KeyUp)
	KeyPageUp       Key = Key(glfw.KeyPageUp)
	KeyPageDown     Key = Key(glfw.KeyPageDown)
	KeyHome         Key = Key(glfw.KeyHome)
	KeyEnd          Key = Key(glfw.KeyEnd)
	KeyF1           Key = Key(glfw.KeyF1)
	KeyF2           Key = Key(glfw.KeyF2)
	KeyF3           Key = Key(glfw.KeyF3)
	KeyF4           Key = Key(glfw.KeyF4)
	KeyF5           Key = Key(glfw.KeyF5)
	KeyF6           Key = Key(glfw.KeyF6)
	KeyF7           Key = Key(glfw.KeyF7)
	KeyF8           Key = Key(glfw.KeyF8)
	KeyF9           Key = Key(glfw.KeyF9)
	KeyF10          Key = Key(glfw.KeyF10)
	KeyF11          Key = Key(glfw.KeyF11)
	KeyF12          Key = Key(glfw.KeyF12)
	KeyLeftShift    Key = Key(glfw.KeyLeftShift)
	KeyLeftControl  Key = Key(glfw.KeyLeftControl)
	KeyLeftAlt      Key = Key(glfw.KeyLeftAlt)
	KeyRightShift   Key = Key(glfw.KeyRightShift)
	KeyRightControl Key = Key(glfw.KeyRightControl)
	KeyRightAlt     Key = Key(glfw.KeyRightAlt)
	KeyLast         Key = Key(glfw.KeyLast)
)

// MouseButton is a mouse button.
type MouseButton int

// Mouse buttons.
const (
	MouseLeft   MouseButton = MouseButton(glfw.MouseButtonLeft)
	MouseRight  MouseButton = MouseButton(glfw.MouseButtonRight)
	MouseMiddle MouseButton = MouseButton(glfw.MouseButtonMiddle)
	mouseLast   MouseButton = MouseButton(glfw.MouseButtonLast)
)

// GamepadButton is a button on a gamepad with a standard (Xbox-like) layout.
type GamepadButton int

// Gamepad buttons.
const (
	GamepadA           GamepadButton = GamepadButton(glfw.ButtonA)
	GamepadB           GamepadButton = GamepadButton(glfw.ButtonB)
	GamepadX           GamepadButton = GamepadButton(glfw.ButtonX)
	GamepadY           GamepadButton = GamepadButton(glfw.ButtonY)
	GamepadLeftBumper  GamepadButton = GamepadButton(glfw.ButtonLeftBumper)
	GamepadRightBumper GamepadButton = GamepadButton(glfw.ButtonRightBumper)
	GamepadBack        GamepadButton = GamepadButton(glfw.ButtonBack)
	GamepadStart       GamepadButton = GamepadButton(glfw.ButtonStart)
	GamepadGuide       GamepadButton = GamepadButton(glfw.ButtonGuide)
	GamepadLeftThumb   GamepadButton = GamepadButton(glfw.ButtonLeftThumb)
	GamepadRightThumb  GamepadButton = GamepadButton(glfw.ButtonRightThumb)
	GamepadDpadUp      GamepadButton = GamepadButton(glfw.ButtonDpadUp)
	GamepadDpadRight   GamepadButton = GamepadButton(glfw.ButtonDpadRight)
	GamepadDpadDown    GamepadButton = GamepadButton(glfw.ButtonDpadDown)
	GamepadDpadLeft    GamepadButton = GamepadButton(glfw.ButtonDpadLeft)
	gamepadButtons                   = int(glfw.ButtonLast) + 1
)

// GamepadAxis is an analog axis of a standard gamepad, in [-1, 1].
type GamepadAxis int

// Gamepad axes.
const (
	GamepadLeftX        GamepadAxis = GamepadAxis(glfw.AxisLeftX)
	GamepadLeftY        GamepadAxis = GamepadAxis(glfw.AxisLeftY)
	GamepadRightX       GamepadAxis = GamepadAxis(glfw.AxisRightX)
	GamepadRightY       GamepadAxis = GamepadAxis(glfw.AxisRightY)
	GamepadLeftTrigger  GamepadAxis = GamepadAxis(glfw.AxisLeftTrigger)
	GamepadRightTrigger GamepadAxis = GamepadAxis(glfw.AxisRightTrigger)
	gamepadAxes                     = int(glfw.AxisLast) + 1
)

// MaxGamepads is how many gamepads can be connected at once.
const MaxGamepads = int(glfw.JoystickLast) + 1

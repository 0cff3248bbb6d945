package gfx

import "github.com/go-gl/gl/v4.1-core/gl"

func glClear(r, g, b, a float32) {
	gl.ClearColor(r, g, b, a)
	gl.Clear(gl.COLOR_BUFFER_BIT)
}

package capture

// ReadbacksIssued is the number of framebuffer reads the recorders'
// readbacks have issued in this process (glReadPixels calls; screenshots
// not counted), for the external GL tests.
func ReadbacksIssued() uint64 { return readbacksIssued.Load() }

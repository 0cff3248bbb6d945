package diskstore

import "github.com/skyloop-engine/skyloop/sdk"

// Plugin describes the disk plugin to sdk.Serve: its Info, its settings
// (root, fsync) and the backend they build. skyloop-plugin-disk serves it,
// and so does a game that finds no skyloop-plugin-disk binary (the engine
// starts its own executable in this plugin's mode; see engine/sync).
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Info:     diskInfo,
		Settings: settingsDecl,
		New:      newBackend,
	}
}

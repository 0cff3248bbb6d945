package main

import "github.com/skyloop-engine/skyloop/sdk"

func main() { sdk.Serve(plugin()) }

// plugin describes the ftp plugin to sdk.Serve.
func plugin() sdk.Plugin {
	return sdk.Plugin{
		Info:     ftpInfo,
		Settings: settingsDecl,
		New:      newBackend,
	}
}

package main

import "github.com/skyloop-engine/skyloop/sdk"

func main() { sdk.Serve(plugin()) }

// plugin describes the s3 plugin to sdk.Serve.
func plugin() sdk.Plugin {
	return sdk.Plugin{
		Info:     s3Info,
		Settings: settingsDecl,
		New:      newBackend,
	}
}

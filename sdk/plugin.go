package sdk

import "context"

// Plugin is what a plugin's main hands to Serve: its description, the
// settings it accepts, and how to build its backend once the host has sent
// the settings from the player's config ([sink.settings]).
type Plugin struct {
	// Info names the plugin; Serve fills in Protocol.
	Info Info
	// Settings declares the accepted keys; Serve rejects unknown and missing
	// ones (CheckSettings) before New is called.
	Settings []Setting
	// New builds the backend from validated settings.
	New func(ctx context.Context, settings map[string]string) (Backend, error)
}

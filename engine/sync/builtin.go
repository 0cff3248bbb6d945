package sync

import (
	"fmt"
	"os"

	"github.com/skyloop-engine/skyloop/plugins/disk/diskstore"
	"github.com/skyloop-engine/skyloop/sdk"
)

// envBuiltin names the built-in plugin a host asks its own executable to
// serve (see FindPlugin): a game or tool built any way — go run, go build,
// go install — records to disk without a skyloop-plugin-disk binary, and
// the disk backend still runs in a process of its own.
const envBuiltin = "SKYLOOP_BUILTIN_PLUGIN"

// builtins are the plugins every program linking this package can serve.
var builtins = map[string]func() sdk.Plugin{"disk": diskstore.Plugin}

// HasBuiltin reports whether plugin name can be served by the running
// executable itself.
func HasBuiltin(name string) bool { return builtins[name] != nil }

// The plugin mode takes over the process before main runs, so no game
// code (flag parsing, a window) runs in it. It only acts when a host
// launched this executable as a plugin: the variable and go-plugin's magic
// cookie are both set.
func init() {
	name := os.Getenv(envBuiltin)
	if name == "" || os.Getenv(sdk.Handshake.MagicCookieKey) != sdk.Handshake.MagicCookieValue {
		return
	}
	p := builtins[name]
	if p == nil {
		fmt.Fprintf(os.Stderr, "skyloop: %s=%s: no such built-in plugin (built in: disk)\n", envBuiltin, name)
		os.Exit(1)
	}
	os.Unsetenv(envBuiltin)
	sdk.Serve(p()) // never returns
}

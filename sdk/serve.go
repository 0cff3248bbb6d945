package sdk

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/skyloop-engine/skyloop/sdk/internal/stdio"
)

// Serve runs a plugin process; a plugin's main calls it and nothing else:
//
//	func main() { sdk.Serve(sdk.Plugin{Info: …, Settings: …, New: newBackend}) }
//
// With the single argument -describe it prints the plugin's Info (with
// Protocol filled in) and declared settings as JSON to stdout and exits 0.
// Otherwise it serves the storage protocol over gRPC through go-plugin
// (handshake Handshake, AutoMTLS as the host requests) until the host
// stops it. Serve never returns.
//
// Stdout belongs to the handshake: a plugin must not print to it before
// Serve (the host's Launch then fails, quoting the stray line). From Serve
// on, writes to os.Stdout are carried to the host's stderr, and writes to
// file descriptor 1 go to stderr. Log to stderr (hclog) instead.
//
// The plugin exits by itself when the host process dies, even by SIGKILL:
// Serve watches its parent process and exits once it changes.
func Serve(p Plugin) {
	p.Info.Protocol = ProtocolVersion
	if len(os.Args) == 2 && (os.Args[1] == "-describe" || os.Args[1] == "--describe") {
		if err := writeDescription(os.Stdout, p); err != nil {
			fmt.Fprintf(os.Stderr, "%s: -describe: %v\n", p.Info.Name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(Handshake.MagicCookieKey) == Handshake.MagicCookieValue {
		os.Stdout = stdio.Reserve()
		go watchParent()
		servedRegion = openShm()
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       p.Info.Name,
		Output:     os.Stderr,
		Level:      hclog.Info,
		JSONFormat: true,
	})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(&p),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, grpcServerOptions()...))
		},
		Logger: logger,
	})
	os.Exit(0)
}

func writeDescription(f *os.File, p Plugin) error {
	d := describeJSON{Info: p.Info, Settings: []settingJSON{}}
	for _, s := range p.Settings {
		d.Settings = append(d.Settings, settingJSON(s))
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// parentPollInterval is how often a plugin checks that its host lives.
const parentPollInterval = 250 * time.Millisecond

// watchParent exits the process once its parent changes: the host died
// and the plugin was re-parented (to init or a subreaper). go-plugin alone
// leaves the plugin running when the host is SIGKILLed
// (hashicorp/go-plugin#210). It runs for the life of the process.
func watchParent() {
	parent := os.Getppid()
	if parent == 1 {
		// The host is PID 1 (a container's init) or the plugin was started
		// orphaned: there is no change to watch for.
		return
	}
	for {
		time.Sleep(parentPollInterval)
		if os.Getppid() != parent {
			os.Exit(0)
		}
	}
}

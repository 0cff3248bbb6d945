package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	storagev1 "github.com/skyloop-engine/skyloop/sdk/proto/v1"
)

// Handshake is the go-plugin handshake shared by Serve and Launch. The
// magic cookie only keeps a plugin binary from being run by hand as if it
// were a normal program; it is not a security measure (AutoMTLS and the
// optional SHA-256 pin are). The protocol version is negotiated through
// the VersionedPlugins maps (see pluginSets), not this field.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SKYLOOP_PLUGIN",
	MagicCookieValue: "skyloop-storage-7d2f9c41a3e8b6f0",
}

const (
	// ChunkSize is the largest payload carried by one gRPC message of a
	// Put or Get stream: far below gRPC's 4 MB default limit.
	ChunkSize = 1 << 20
	// MaxMessageSize is the receive limit both sides set on their gRPC
	// endpoints: headroom over ChunkSize for large metadata maps, so that
	// no legitimate message is refused.
	MaxMessageSize = 16 << 20

	// pluginName is the name of the storage service in a plugin set.
	pluginName = "storage"
)

// pluginSets lists the protocol versions spoken, by major version. A v2
// would sit beside v1 here, with its own proto package (sdk/proto/v2).
func pluginSets(p *Plugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {pluginName: &grpcPlugin{p: p}},
	}
}

// grpcPlugin is the go-plugin glue for protocol v1: the server half wraps
// a Plugin, the client half returns a *Client.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	p *Plugin // nil on the host side
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if g.p == nil {
		return errors.New("sdk: no plugin to serve")
	}
	storagev1.RegisterStorageServer(s, newGRPCServer(g.p))
	return nil
}

func (g *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &Client{rpc: storagev1.NewStorageClient(cc)}, nil
}

// grpcServerOptions and grpcDialOptions raise the message limits on both
// sides deliberately (MaxMessageSize), even though chunks stay at 1 MiB.
func grpcServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}
}

func grpcDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageSize),
		grpc.MaxCallSendMsgSize(MaxMessageSize),
	)}
}

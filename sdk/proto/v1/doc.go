// Package storagev1 is the wire protocol, major version 1, between the
// skyloop host (sdk.Launch, sdk.Client) and a storage plugin (sdk.Serve):
// storage.proto and the code protoc generates from it. Plugin authors and
// the engine never use it directly; the sdk package adapts it to and from
// sdk.Backend. A protocol v2 would live beside it in sdk/proto/v2.
//
// Regenerate with `go generate ./sdk/proto/v1` (see README.md for the
// pinned tool versions).
package storagev1

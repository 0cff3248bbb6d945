// Command skyloop-plugin-disk is the skyloop storage plugin that keeps
// objects in a directory on local disk. It is the default sink: a player
// who writes no config records into a disk sink under the user's data
// directory.
//
// Where it sits in the flow: engine/sync launches this binary, hands it
// the sink's settings and moves spooled segments and saves to it through
// the sdk's plugin protocol (sdk.Serve); the backend, in package
// plugins/disk/diskstore, only stores and returns blobs under keys. Its
// layout, write protocol, crash behaviour and limits are documented there.
//
// Settings:
//
//	root   directory that holds the objects (required; created if missing)
//	fsync  fsync each file and its directory before a put returns
//	       (optional, default true)
//
// Install it with `make build` (bin/skyloop-plugin-disk) or
// `go install github.com/skyloop-engine/skyloop/plugins/disk@latest`
// (installed as "disk", a name engine/sync also finds in Go's bin
// directory). A game that finds neither still records to disk: it runs
// the same backend in a child process of its own executable.
package main

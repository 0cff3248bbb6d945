// Command skyloop is the command-line tool for players and plugin authors.
//
// Where it sits in the flow: games record segments through the spool to
// sinks (plugins); skyloop starts the same plugins, as configured in the
// same config file, and reads what they stored:
//
//	skyloop sessions [--sink NAME]          recorded sessions in every sink
//	skyloop verify SESSION                  every frame present and decodable?
//	skyloop export SESSION --out run.gif|run.mp4|DIR [--fps F] [--force]
//	skyloop delete SESSION… [--yes] [--dry-run]
//	skyloop prune --older-than D | --keep N | --max-size S [--yes] [--dry-run]
//	skyloop serve [--addr 127.0.0.1:8080]   web replay viewer
//	skyloop plugin check PATH [--set k=v]   the sdk/synctest suite, out of process
//	skyloop plugin describe PATH
//	skyloop bench capture|transport|encode
//	skyloop saves list|show|history|export|restore|resolve   the games' save slots
//	skyloop version [--json]
//
// The config file is --config, else $SKYLOOP_CONFIG, else
// $XDG_CONFIG_HOME/skyloop/config.toml when it exists, else the built-in
// defaults (engine/config.LoadResolved), as for the games. The read-only
// commands reach sinks through engine/sync; delete and prune launch each
// sink's plugin with the sdk directly, for its Delete.
//
// It builds with CGO_ENABLED=0: it imports the sdk, engine/segment,
// engine/sync, engine/config and engine/saves, never the OpenGL parts of
// the engine.
package main

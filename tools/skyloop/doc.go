// Command skyloop is the command-line tool for players and plugin authors.
//
// Where it sits in the flow: games record segments through the spool to
// sinks (plugins); skyloop starts the same plugins, as configured in the
// same config file, and reads what they stored:
//
//	skyloop sessions [--sink NAME]          recorded sessions in every sink
//	skyloop verify SESSION                  every frame present and decodable?
//	skyloop export SESSION --format png|gif|mp4 --out PATH
//	skyloop serve [--addr 127.0.0.1:8080]   web replay viewer
//	skyloop plugin check PATH [--set k=v]   the sdk/synctest suite, out of process
//	skyloop plugin describe PATH
//	skyloop bench capture|transport|encode
//
// It builds with CGO_ENABLED=0: it imports the sdk, engine/segment,
// engine/sync and engine/config, never the OpenGL parts of the engine.
package main

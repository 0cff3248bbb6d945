// Package conformance runs the sdk/synctest conformance suite against a
// plugin binary, out of process, for `skyloop plugin check`.
//
// Where it sits in the flow: plugins are the dumb storage at the end of the
// sync path; sdk/synctest is the contract they must keep. This package is
// the bridge between the suite, which is written against *testing.T, and a
// command-line tool, which has no `go test` around it.
//
// Every check gets a freshly launched plugin process (sdk.Launch; the
// *sdk.Client is the sdk.Backend the suite sees), closed in t.Cleanup, so
// no state and no process outlives its check. Because the suite expects
// each backend to be fresh and empty, one setting (Options.Scratch, e.g.
// the disk plugin's "root" or the S3 plugin's "prefix") gets a unique value
// per check: BASE/RUN/check-0007, RUN naming this run
// ("skyloop-check-TIME-RANDOM") so that a second run against the same root
// or bucket prefix does not see the first one's objects.
//
// How the suite runs without `go test`: testing.RunTests runs nothing
// outside a test binary (the CPU list is only set by M.Run), so Run builds a
// testing.M with testing.MainStart and a small implementation of the
// testing package's (unexported, per-release) testDeps interface, whose
// methods are all no-ops except MatchString. One InternalTest,
// "Conformance", calls synctest.Run. Around m.Run, under a process-wide
// mutex (the testing package's flags and os.Stdout are global):
//
//   - every "test.*" flag is saved, reset to its default (so that, inside a
//     `go test` binary, the outer run's -test.testlogfile, -test.timeout,
//     -test.paniconexit0, profiles … do not apply to the inner run) and
//     restored afterwards; test.v is on (the verbose stream is what the
//     per-check logs are cut from), test.count is 1 and test.timeout is 0:
//     the testing package's alarm panics the whole process, so Options.Timeout
//     is enforced here instead, by killing the live plugins and failing the
//     checks not yet started;
//   - os.Stdout is swapped for a pipe while m.Run runs (the testing package
//     writes its stream there) and restored;
//   - m.Run returns an exit code and never calls os.Exit here.
//
// Each check records its outcome (name, passed / failed / skipped,
// duration) from a t.Cleanup registered in newBackend; its log is the part
// of the verbose stream between its "=== RUN/NAME/CONT" header and the
// next header, plus what the plugin printed to stderr during the check.
//
// Limits: a panic inside the suite (not in the plugin: a plugin that
// crashes is a failed check) ends the process, as it would end `go test`.
// testing.MainStart and testDeps are internal to `go test` and may change
// with a Go release; this package's tests (which run the runner inside a
// `go test` binary, the harder case) catch that. Inside a `go test -cover`
// binary the inner m.Run also calls the coverage tear-down the outer run
// registered, with no profile flag set; the outer profile is still written
// (checked with Go 1.26).
package conformance

// Package synctest is the conformance suite every skyloop storage backend
// runs with one call, in the spirit of rclone's fstests and restic's backend
// tests:
//
//	func TestConformance(t *testing.T) {
//		synctest.Run(t, func(t *testing.T) sdk.Backend {
//			return newMyBackend(t) // fresh and empty, cleaned up with t.Cleanup
//		})
//	}
//
// Where it sits in the flow: plugins (plugins/disk, plugins/s3, …) are the
// dumb storage at the end of the sync path; the engine relies on the
// behaviour of the sdk.Backend contract (typed errors, preconditions, ranged
// reads, key order, atomic replacement) and this suite is what checks it.
//
// Run calls newBackend once per subtest and expects a fresh, empty backend
// each time (a new directory, bucket prefix or in-memory store); the
// subtests list the whole backend and assume they are alone in it. The
// subtest names are stable ("RoundTrip/Large", "IfNoneMatch/Existing", …;
// see Checks) so that tools can report a pass/fail table.
//
// Capabilities come from Backend.Info: when ConditionalWrites, RangedReads
// or AtomicReplace is false, the subtests that need it call t.Skip with a
// message naming the capability; every other subtest always runs.
//
// NewMemoryBackend is a small in-memory reference backend that passes the
// suite; plugin authors can read it as an example and tests can use it as a
// stand-in sink.
package synctest

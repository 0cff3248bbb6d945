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
// Capabilities come from Backend.Info: when ConditionalWrites, RangedReads,
// AtomicReplace or NestedKeys is false, the subtests that need it call
// t.Skip with a message naming the capability (NestedKeys instead checks
// that the refused Put is permanent and harms nothing); every other
// subtest always runs.
//
// The checks force the overlaps that racy backends get wrong rather than
// hoping for them: bodies that advance in lockstep across concurrent Puts,
// bodies that pause mid-upload while the check reads, a Get whose writer
// overwrites the object before taking the bytes, List callbacks that call
// back into the backend and delete keys before the current one. The suite
// is itself tested by mutation (internal/planted): a correct backend with
// 34 planted bugs, one at a time, each caught by the check named for it
// on every run. The classes: preconditions checked apart from the write,
// shared upload buffers, overwrites and new keys visible before the Put
// returns, ObjectInfo read apart from the bytes, listing order, prefix
// semantics, locks held across the List callback, paging by position,
// stale caches, operations on neighbouring keys (Delete or IfNoneMatch by
// prefix, another key's ETag), size caps below the engine's largest
// segment, every edge of GetOptions, metadata aliasing and merging, ETags
// that do not change with the content, failed or cancelled uploads that
// harm the old object, and wrong error kinds or retry classes.
// docs/plugins.md lists them with the few that only an in-process run
// forces.
//
// NewMemoryBackend is a small in-memory reference backend that passes the
// suite; plugin authors can read it as an example and tests can use it as a
// stand-in sink.
package synctest

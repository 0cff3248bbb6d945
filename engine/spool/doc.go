// Package spool is the engine's on-disk journal of work for each sink: the
// place that makes "never loses what it accepted" true.
//
// Where it sits in the flow:
//
//	engine/segment (segments) ─┐
//	                           ├─► Spool.Accept ─► spool dir ─► one delivery goroutine per Sink ─► engine/sync ─► plugin
//	engine/saves   (saves)    ─┘   (local disk      (fsynced)    (own queue, own retries,
//	                                only)                         own order)
//
// Open(dir, sinks, opts) replays the directory and starts one delivery
// goroutine per Sink. Accept writes the payload with a small header to a
// temporary file, fsyncs it, renames it into dir/data and fsyncs that
// directory; the rename is the commit point. Only then does Accept return
// nil, and from then on the item will reach every sink that was configured
// at that moment, across crashes and restarts. Accept does local disk I/O
// only: a slow or failing sink never holds back Accept or another sink.
// Accepts are serialized (IDs follow commit order); with no sink
// configured, Accept commits and at once deletes the payload.
//
// Per sink the spool records what is finished rather than what is
// pending: the payload header names the sinks it is for, and a sink that
// has it gets an empty marker dir/sinks/NAME/ID.done (fsynced) after a
// successful Put. An item is pending for a sink while its payload exists
// and has no done marker. When every sink named in the header is done, the
// payload is deleted, then its markers; a crash in between leaves markers
// that Open removes. One rename per Accept is cheaper than one marker per
// sink, and a half-made Accept can never look accepted.
//
// Delivery is in ID (accept) order per sink: the goroutine puts the head
// of its queue and, on a retryable failure, retries that same item after an
// exponential backoff with jitter (Options.MinBackoff…MaxBackoff, default
// 200 ms…30 s). Retryable means DefaultRetryable unless Options.Retryable
// says otherwise: errors a backend marked retryable (sdk.IsRetryable),
// expired deadlines (Options.AttemptTimeout), and errors that are not
// typed by a backend at all (transport failures).
// A permanent error parks the item for that sink: it stays on disk, a
// marker ID.parked records the reason, it is listed by Failed and counted
// in Stats, and it waits for Requeue or Discard — it is never deleted
// silently, and it stays parked across restarts. A requeued item goes
// back at its ID's place in the queue, so it may reach the sink after
// items accepted later. A KindSave item refused
// with sdk.ErrPreconditionFailed goes to Options.OnConflict, which either
// resolves it (counted as done for that sink) or parks it as a conflict.
//
// Records replace older records of their key: accepting a KindRecord
// drops, for each sink, the older records of the same key that sink has
// not received (queued or parked, counted in SinkStats.Superseded); one in
// flight there is neither retried nor parked once its Put ends. So every
// sink ends up holding the newest version accepted, even where an older
// one was parked and would otherwise be requeued after it, and a sink
// that was down gets one version rather than every one. Open applies the
// same rule to what it replays. Segments and saves are never superseded
// (their keys are unique, or their writes are conditional).
//
// Size cap: with Options.MaxBytes set, when the payload bytes on disk
// exceed it after an Accept (or on Open), the oldest KindSegment items are
// evicted — for every sink, parked or queued — until the total fits; each
// eviction is logged and counted (Stats.Evicted, SinkStats.Evicted).
// KindSave and KindRecord items are never evicted and their Accept
// succeeds over the cap; the item just accepted is never the one evicted,
// so a single segment larger than the cap is still delivered.
//
// A full disk: when writing an item fails with ENOSPC (or EDQUOT), Accept
// makes room and writes again — a save or record first takes the room of
// the reserve file (Options.ReserveBytes, 1 MiB, made again once there is
// room), then older segments are evicted, oldest first, as under the cap.
// When nothing is left to evict it fails with ErrFull and the item is not
// kept: the caller counts it as lost (the recorder lists the segment in
// the session's end record). The first refusal or eviction for room is
// logged once, and so is the first Accept that fits again; Stats.Full,
// Stats.Refused and Stats.Evicted count them.
//
// Crash safety: files in dir/tmp were never committed and are deleted on
// Open. A committed payload whose length, magics or CRC-32C do not check
// out is moved to dir/corrupt, logged and counted (Stats.Corrupt). A LOCK
// file with flock keeps two Spools off one directory. Delivery is
// at-least-once across crashes: a process that dies after a sink accepted a
// Put but before the done marker is durable delivers that item again on the
// next Open. Within one process every item reaches every sink once.
//
// Close stops the goroutines (cancelling Puts in flight) and leaves what is
// undelivered on disk for the next Open.
package spool

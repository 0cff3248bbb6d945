// Package saves keeps a game's own data — save slots, high scores,
// counters, achievements — local first, versioned, merged by rules, never
// silently overwritten, optionally encrypted, and synced across a player's
// devices through the sinks. It is pure Go (no cgo), so tools/skyloop uses
// it too.
//
// Where it sits in the flow: a game calls engine.Saves() (or a tool calls
// Open) and Save / Load. Save writes an immutable version of the slot to
// the local directory and returns; a background goroutine fsyncs it and
// hands it to Upload — in a running game the engine's spool, which
// delivers it to every sink as a KindSave item (never evicted). A poller
// lists the player's saves prefix in every sink (one List per sink per
// poll) and fetches only versions it does not know.
//
// Versions, not overwrites: every Save is a new object
// GAME/PLAYER/saves/SLOT/ID.sav (ID = the device's hybrid-logical-clock
// stamp and the device id), so no write can replace another on any
// backend, with or without conditional writes, and two devices writing
// concurrently always leave two versions — a conflict that is always
// detected. Each version carries a version vector (the latest clock of
// every device it descends from); the current version of a slot is the
// one no other version dominates. When there are several (two devices
// wrote offline), they are merged: typed fields (Best, Least, Counter,
// Unlocks, Value) by their rules, plain values that differ by the Policy —
// or, with Manual, both are kept and the game is told (a Conflict) to ask
// the player. A merge is itself a version, with the same id and content on
// every device that makes it, so merging is safe to repeat and cannot
// loop. Old versions beyond Options.History are pruned (never heads, never
// ones not yet uploaded); the vectors keep merges exact without them.
//
// Encryption (Options.Passphrase): AES-256-GCM with a key derived by
// Argon2id from the passphrase and a per-device salt; the key never leaves
// the machine. The header (lineage, clock, metadata) is inside the
// ciphertext and the object's key is authenticated too, so a version moved
// to another slot or id, or altered, is refused; a wrong passphrase is
// ErrWrongPassphrase.
//
// Layout and format: docs/saves.md.
package saves

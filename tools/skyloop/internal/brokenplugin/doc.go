// Command brokenplugin is a deliberately broken storage plugin for the
// tests of `skyloop plugin check`: synctest's in-memory reference backend,
// served with sdk.Serve, except that a Put with IfMatch ignores a stale
// ETag (it only checks that the object exists) and overwrites the object.
// Of the conformance suite exactly three checks catch that —
// "IfMatch/Stale", "Neighbours/Conditional" (another key's ETag) and
// "Conditional/Refused" (an ETag that matches nothing); every other check
// passes. With "claim_nested" its Info claims NestedKeys, which its
// description denies, and "Describe/Info" fails.
//
// Where it sits in the flow: nowhere in production; it stands in for a
// third-party plugin with a contract bug. Its memory lives in its process,
// and `plugin check` starts one process per check, so every check sees an
// empty backend. Settings: "prefix" (ignored; declared so that the tool's
// scratch handling is exercised) and "no_ranged_reads" (non-empty: Info
// denies RangedReads, so the suite skips the Range checks).
package main

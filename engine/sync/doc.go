// Package sync runs the storage plugins of the player's config and keeps
// them running.
//
// Where it sits in the flow: capture (and later saves) hand items to
// engine/spool, which delivers them to each sink through a Sink from this
// package. A Sink owns one plugin process (skyloop-plugin-NAME, found beside
// the game's binary, in a configured directory, or on PATH, its SHA-256
// checked when pinned), launches it through sdk.Launch, and relaunches it
// with exponential backoff when it crashes; the call that met the crash
// fails as retryable, so the spool retries it and nothing accepted is lost.
// Close stops the process; none is left behind.
package sync

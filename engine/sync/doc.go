// Package sync runs the storage plugins of the player's config and keeps
// them running.
//
// Where it sits in the flow: capture (and later saves) hand items to
// engine/spool, which delivers them to each sink through a Sink from this
// package. A Sink owns one plugin process (skyloop-plugin-NAME, found beside
// the game's binary, in a configured directory, or on PATH, its SHA-256
// checked when pinned), launches it through sdk.Launch, and relaunches it
// with exponential backoff when it crashes or hangs (does not answer its
// health check within Options.HealthTimeout: it is killed with its
// process group); the call that met the crash or the hang fails as
// retryable, so the spool retries it and nothing accepted is lost. Every
// launch, health check and shutdown has a deadline. Close stops the
// process, within about sdk.CloseTimeout whatever it does; none is left
// behind.
package sync

// Package viewer is the web replay viewer behind `skyloop serve`: an
// http.Handler with a small JSON API over the sessions of a set of stores
// (sinks) and the frames of each session as PNG, plus an embedded,
// dependency-free front end (one HTML page, JS and CSS) that lists the
// sessions and plays them back on a canvas.
//
// Nothing from a URL reaches a store unvalidated: the path parts of a
// session URL must equal a session found by listing the stores (storage
// keys come from the listing, never from URL text), and a frame number must
// be an unsigned decimal integer naming a frame stored in that session.
// Anything else is a 404 with a JSON error.
package viewer

// Command skyloop-plugin-disk is the skyloop storage plugin that keeps
// objects in a directory on local disk. It is the default sink: a player
// who writes no config records into a disk sink under the user's data
// directory.
//
// Where it sits in the flow: engine/sync launches this binary, hands it
// the sink's settings and moves spooled segments and saves to it through
// the sdk's plugin protocol (sdk.Serve); the backend here only stores and
// returns blobs under keys.
//
// Settings:
//
//	root   directory that holds the objects (required; created if missing)
//	fsync  fsync each file and its directory before a put returns
//	       (optional, default true)
//
// Layout under root: every key segment becomes a directory, escaped so
// that '%' reads "%25"; the object is a file named after the last segment
// plus "%o" (key "GAME/alice/saves/slot1" is GAME/alice/saves/slot1%o).
// The suffix keeps objects apart from directories, so "a" and "a/b" can
// both be keys. Each object file holds the content followed by a small
// JSON trailer (key, size, ETag = hex SHA-256 of the content, modification
// time, metadata), its length and a magic number: content and metadata are
// published together by one rename, so there is no sidecar that could
// disagree with its object after a crash.
//
// Writes are atomic: the upload goes to a temp file ("%t…") in the target
// directory, is fsynced, and is renamed over the object; the directory is
// then fsynced. A crash leaves at most a temp file, which List, Get and
// Stat never show (names with a '%' not followed by "25" are not keys).
// Conditional writes (If-Match, If-None-Match) check the current ETag and
// rename under a lock: a per-key mutex within the process plus, on Unix,
// an flock on root/%lock, so several plugin processes sharing one root are
// coordinated too (on other systems they are not).
//
// Keys never leave the root: they are validated with sdk.ValidateKey, all
// file access goes through an os.Root (which refuses paths and links that
// escape it), and any symbolic link found on a key's path is refused
// outright; List skips links.
//
// Limits: a key segment longer than the file system's name limit (255
// bytes on most, less after escaping '%') cannot be stored; on
// case-insensitive file systems keys differing only in case collide.
package main

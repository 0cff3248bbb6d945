// Package diskstore is the backend of the disk plugin: objects kept in a
// directory on local disk. It is the default sink: a player who writes no
// config records into a disk sink under the user's data directory.
//
// Where it sits in the flow: engine/sync launches a plugin process serving
// Plugin() — the skyloop-plugin-disk binary (plugins/disk), or, when no
// such binary is found, the game's own executable in the disk plugin's
// mode — hands it the sink's settings and moves spooled segments and saves
// to it through the sdk's plugin protocol (sdk.Serve); the backend here
// only stores and returns blobs under keys. It imports only the sdk.
//
// Settings:
//
//	root   directory that holds the objects (required; created if missing)
//	fsync  fsync each file and its directory before a put returns
//	       (optional, default true)
//
// Layout under root: every object is a plain file holding exactly its
// bytes at root/KEY, so a player can browse the sink with ls and open a
// segment with any reader (key "breakout/alice/sessions/S/00000000.seg" is
// the file breakout/alice/sessions/S/00000000.seg). Key segments become
// directories; a '%' in a segment is written "%25", so every name with a
// '%' not followed by "25" belongs to the plugin and no key maps to it:
//
//	.NAME%m   sidecar of the object file NAME in the same directory (JSON:
//	          key, size, modification time in ns, ETag = hex SHA-256 of
//	          the content, metadata); hidden from ls, and matching no
//	          "*.seg"-style glob, so segment readers see only segments
//	%t…       temp files, in the root directory only
//	%lock     the lock file, in the root directory
//	%o, X%d   see "a and a/b" below
//
// a and a/b: a key may be both an object and a prefix of other keys (S3
// allows it, and sdk/synctest's List/Order check stores "o/a" and "o/a/b").
// The file system cannot hold a file and a directory under one name, so
// the second of the two to be written takes a reserved name, and nothing
// is ever moved: if "a" is an object file, keys "a/…" live in directory
// "a%d"; if "a" is a directory of other keys, object "a" is the file
// "a/%o". Engine keys (GAME/PLAYER/sessions/SESSION/NNNNNNNN.seg and
// GAME/PLAYER/saves/SLOT) never meet this case. A path that is neither a
// file nor a directory (a FIFO, a device), or a reserved name of the wrong
// kind, makes Put fail with a permanent error naming the path and the key.
//
// The sidecar is a cache, validated against its object file: it holds only
// while the file's size and modification time (ns) are the ones it records.
// Otherwise (a crash between the two renames of a Put, or the file edited
// or replaced by hand, or dropped in with no sidecar at all) the ETag is
// recomputed from the content on the next read and the sidecar rewritten,
// keeping its metadata; the file's content always wins. An edit that keeps
// both the size and the modification time goes unnoticed, which on file
// systems with coarse timestamps is possible.
//
// Writes: the upload goes to a temp file in the root, is fsynced, and is
// renamed to the object's path; then the sidecar (also written to a temp
// file and fsynced beforehand) is renamed beside it, and the directory is
// fsynced, as are the parents of directories made for the key. A crash
// leaves at most temp files, which List, Get and Stat never show, or a
// new object file with an old or missing sidecar, which reads repair.
// Readers never see a partly written object. Delete removes the object
// file, then its sidecar, then directories left empty. Conditional writes
// (If-Match, If-None-Match) check the current ETag, choose or make the
// key's directories and rename under a lock: a per-key mutex within the
// process plus, on Unix, an flock on root/%lock, so several plugin
// processes sharing one root are coordinated too (on other systems they
// are not). Files are created 0644 and directories 0755 (less the umask).
//
// Keys never leave the root: they are validated with sdk.ValidateKey, all
// file access goes through an os.Root (which refuses paths and links that
// escape it), any symbolic link found on a key's path is refused
// outright, and files are opened with O_NOFOLLOW; List skips links.
//
// Limits: a key segment longer than 252 bytes after escaping '%' (the
// common 255-byte name limit less the sidecar's "." and "%m") cannot be
// stored; on case-insensitive file systems keys differing only in case
// collide. Roots written by the earlier one-file layout ("NAME%o" files
// holding the content and a JSON trailer) are not migrated: those names
// are not keys, so List, Get and Stat do not see them.
package diskstore

// Command skyloop-plugin-ftp is the FTP/FTPS sink: a plugin process
// (sdk.Serve) that stores skyloop's blobs as files in one directory tree
// of an FTP server (vsftpd, pure-ftpd, a NAS, a rented host), through
// github.com/jlaffaye/ftp.
//
// Where it sits in the flow: the engine's sync workers hand it segments and
// saves through the sdk; it is dumb storage at the end of that path. It
// imports only the sdk (and its test harness, plugins/ftp/ftptest, only in
// tests).
//
// Settings: host and user (required), port (21, or 990 for implicit TLS),
// password or password_env (never logged), root (created if missing),
// tls = explicit (AUTH TLS, the default) | implicit | none, ca_file and
// server_name (certificates are always verified), timeout_seconds (dial
// and I/O silence, default 30), connections (pool size, default 4) and
// lock_lease_seconds (default 120). See docs/ftp.md.
//
// Connections: a bounded pool of logged-in control connections, one
// operation on each at a time (the library's connection is not safe for
// concurrent use). Every read and write has a deadline; a cancelled
// context aborts the connections of its operation, which are then
// discarded. A connection the server dropped while idle is replaced and
// the operation retried once, if it had not yet consumed the caller's
// bytes; while the server is down, operations fail as retryable. Passive
// mode only (EPSV, else PASV; the data address is the control address).
// TLS data connections resume the control connection's TLS session (one
// session cache per control connection, read-only for data connections),
// which vsftpd's default require_ssl_reuse=YES demands.
//
// Layout under root: key segments are directories and the object is a
// file holding exactly its bytes, its name escaped into [A-Za-z0-9._-] and
// %XX (names.go), so engine keys keep their names and nothing in a name
// can reach a command, a glob or a LIST parser. Beside object NAME lives
// its sidecar ".NAME%m" (JSON: size, ETag = hex SHA-256 of the content,
// write time, metadata), trusted only while its size matches the file's;
// otherwise the ETag is computed from the content. Temp files ".%t…" and
// lock directories ".NAME%l" are hidden from List.
//
// Writes: the upload goes to a temp file in the key's directory (made on
// demand), then the sidecar to another; under the key's lock (lock.go) the
// precondition is checked and the temp files are renamed (RNFR/RNTO) over
// the object and its sidecar. Readers never see a partial object; a failed
// or cancelled upload leaves no object, and its temp file is deleted then
// or, if the server is gone, by the next successful Put of this process. A
// full Get computes the ETag and size from the bytes it sends; a ranged Get
// (REST) and Stat take the sidecar's. List walks directories with MLSD
// where the server has it and LIST otherwise, and sorts byte-wise.
//
// Conditional writes (If-Match, If-None-Match) and every replacement hold a
// per-key lock directory with a lease: a lock left unchanged for the lease
// by a crashed writer is broken by the next writer. Delete removes the
// object and its sidecar under the lock, then empty directories.
//
// Limits: a key cannot be both an object and a prefix of other keys ("a"
// and "a/b"): the second Put fails with a permanent sdk.ErrUnsupported
// error naming the conflict (Capabilities.NestedKeys is false); engine keys
// never meet this. List returns no ETags (Stat does). A segment longer than
// 252 bytes once escaped cannot be stored. Locks assume POSIX rename
// semantics for directories (true of vsftpd and pure-ftpd on Linux).
package main

// Package ftptest starts real FTP servers for tests: Debian's vsftpd and
// pure-ftpd on 127.0.0.1, each with one virtual user chrooted into a fresh
// directory, passive mode on a port range, and optionally TLS with a
// certificate signed by a CA it generates (crypto/x509).
//
// Where it sits in the flow: it is test scaffolding beside plugins/ftp,
// the FTP sink. The plugin's own tests and the engine's FTP tests
// (engine/ftp_test.go) import it; the plugin binary never does.
//
// Servers are stopped, with the session processes they forked, and their
// files removed when the test ends. Without the server binary, or not as
// root (both servers chroot and switch to the system user "ftp"), a test
// is skipped with the command that fixes it, and fails instead when
// SKYLOOP_REQUIRE_DISPLAY=1 (`make test`), so CI cannot pass by skipping.
//
// vsftpd authenticates the virtual user through a PAM service file written
// to /etc/pam.d for the life of the server (pam_exec checking user and
// password); pure-ftpd through a PureDB made with pure-pw.
package ftptest

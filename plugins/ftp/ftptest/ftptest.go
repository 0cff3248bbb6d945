package ftptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that `make test` sets to 1: a
// test that would skip for lack of a server binary fails instead, so CI
// cannot pass by skipping. (The same variable as engine/enginetest's
// RequireDisplayEnv; plugins may not import the engine.)
const RequireEnv = "SKYLOOP_REQUIRE_DISPLAY"

// Install commands named in skip messages. vsftpd and pure-ftpd conflict as
// Debian packages (both provide ftp-server), so tools/dev/deps.sh installs
// vsftpd and unpacks the pure-ftpd package into PureFTPdDir.
const (
	VsftpdInstall   = "apt-get install -y vsftpd (or: tools/dev/deps.sh test)"
	PureFTPdInstall = "tools/dev/deps.sh test (it unpacks Debian's pure-ftpd, which conflicts with vsftpd as a package, into " + PureFTPdDir + "; or apt-get install -y pure-ftpd)"
	// PureFTPdDir is where tools/dev/deps.sh unpacks the pure-ftpd package.
	PureFTPdDir = "/usr/local/lib/skyloop/pure-ftpd"
)

// User and Password are the FTP account of every test server.
const User = "skyloop"

// Options shape a test server.
type Options struct {
	// TLS makes the server require TLS (explicit, AUTH TLS) on control and
	// data connections, with a certificate signed by a CA the harness
	// makes (Server.CAFile).
	TLS bool
	// NoSSLReuse turns vsftpd's require_ssl_reuse off (it is on, the
	// default, otherwise).
	NoSSLReuse bool
}

// Server is a real FTP server for tests, listening on 127.0.0.1, its one
// user chrooted into Dir.
type Server struct {
	Kind     string // "vsftpd" or "pure-ftpd"
	Host     string // 127.0.0.1
	Port     int
	User     string
	Password string
	Dir      string // the local directory the user sees as "/"
	CAFile   string // PEM of the CA that signed the server's certificate (TLS only)
	TLS      bool

	bin    string
	args   []string
	env    []string
	logf   string
	tmp    string
	extra  func() // cleanup beyond the process (the PAM service file)
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	output *strings.Builder
}

// Settings are the ftp plugin's settings for this server, root "/".
func (s *Server) Settings() map[string]string {
	m := map[string]string{
		"host":     s.Host,
		"port":     strconv.Itoa(s.Port),
		"user":     s.User,
		"password": s.Password,
		"root":     "/",
		"tls":      "none",
	}
	if s.TLS {
		m["tls"] = "explicit"
		m["ca_file"] = s.CAFile
	}
	return m
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func findBin(name string, extra ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range append([]string{"/usr/sbin/" + name}, extra...) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// passiveRange picks 512 consecutive ports at random in 20000–59999 (two
// servers picking overlapping ranges only share ports, which the kernel
// arbitrates). Each data connection's port waits in TIME_WAIT after it, so
// the conformance suite's bursts of parallel uploads ran a 64-port range
// dry on pure-ftpd ("425 Unable to identify the local data socket").
func passiveRange() (lo, hi int) {
	n, _ := rand.Int(rand.Reader, big.NewInt(40000-512))
	lo = 20000 + int(n.Int64())
	return lo, lo + 511
}

// ftpUser is the system account the servers run sessions as.
func ftpUser(t testing.TB) (uid, gid int) {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 3 && f[0] == "ftp" {
			uid, _ = strconv.Atoi(f[2])
			gid, _ = strconv.Atoi(f[3])
			return uid, gid
		}
	}
	unavailable(t, "no system user \"ftp\" (Debian's vsftpd package creates it): "+VsftpdInstall)
	return 0, 0
}

func needRoot(t testing.TB, kind string) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, kind+" tests need root: the servers chroot their user and switch to the \"ftp\" account (run the tests as root, e.g. in the CI container)")
	}
}

// newServer prepares the common parts: a data directory owned by the ftp
// user, credentials, a certificate.
func newServer(t testing.TB, kind string, o Options) *Server {
	tmp, err := os.MkdirTemp("", "skyloop-"+kind+"-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Kind: kind, Host: "127.0.0.1", User: User, Password: "pw-" + randHex(8), TLS: o.TLS, tmp: tmp}
	t.Cleanup(func() {
		s.Stop()
		if s.extra != nil {
			s.extra()
		}
		os.RemoveAll(tmp)
	})
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	s.Dir = filepath.Join(tmp, "data")
	if err := os.Mkdir(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	uid, gid := ftpUser(t)
	if err := os.Chown(s.Dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	s.Port = freePort(t)
	s.logf = filepath.Join(tmp, kind+".log")
	if o.TLS {
		if err := s.makeCert(); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// makeCert writes ca.pem (a fresh CA) and server.pem/server.key (a
// certificate for 127.0.0.1 and localhost signed by it) into tmp.
func (s *Server) makeCert() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "skyloop test CA " + randHex(4)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	s.CAFile = filepath.Join(s.tmp, "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	files := map[string][]byte{
		"ca.pem":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		"server.pem": certPEM,
		"server.key": keyPEM,
		"both.pem":   append(append([]byte{}, keyPEM...), certPEM...),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(s.tmp, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// StartVsftpd starts Debian's vsftpd on a free loopback port with a
// generated config: one local user made for it (useradd, with its own PAM
// service; both removed at the end), chrooted into a fresh directory, passive mode on a port
// range, and with Options.TLS, TLS required on control and data
// connections (require_ssl_reuse as vsftpd's default, YES). The server is
// stopped and its files removed when t ends. Without vsftpd, or not as
// root, t is skipped naming the fix (failed under `make test`).
func StartVsftpd(t testing.TB, o Options) *Server {
	t.Helper()
	bin := findBin("vsftpd")
	if bin == "" {
		unavailable(t, "vsftpd not found; install it with: "+VsftpdInstall)
	}
	needRoot(t, "vsftpd")
	s := newServer(t, "vsftpd", o)
	s.bin = bin
	// A local user made for this server (useradd, removed at the end)
	// with its own PAM service (pam_unix), so that no system account and
	// no shell check of Debian's /etc/pam.d/vsftpd is involved.
	s.User = "skyftp" + randHex(5)
	if out, err := exec.Command("useradd", "--no-create-home", "--home-dir", s.Dir, "--shell", "/usr/sbin/nologin", "--user-group", s.User).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s (the vsftpd test user): %v %s", s.User, err, out)
	}
	user := s.User
	service := "skyloop-test-" + user
	pamFile := filepath.Join("/etc/pam.d", service)
	s.extra = func() {
		os.Remove(pamFile)
		exec.Command("userdel", user).Run()
	}
	chpw := exec.Command("chpasswd")
	chpw.Stdin = strings.NewReader(s.User + ":" + s.Password + "\n")
	if out, err := chpw.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v %s", err, out)
	}
	if out, err := exec.Command("chown", s.User+":"+s.User, s.Dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	pam := "auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_permit.so\n"
	if err := os.WriteFile(pamFile, []byte(pam), 0o644); err != nil {
		t.Fatalf("writing the PAM service %s for vsftpd's test user: %v", pamFile, err)
	}
	empty := filepath.Join(s.tmp, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	lo, hi := passiveRange()
	conf := []string{
		"listen=YES", "listen_ipv6=NO", "listen_address=127.0.0.1", fmt.Sprintf("listen_port=%d", s.Port),
		"background=NO", "anonymous_enable=NO", "local_enable=YES", "write_enable=YES", "local_umask=022",
		"pam_service_name=" + service,
		"chroot_local_user=YES", "allow_writeable_chroot=YES", "local_root=" + s.Dir,
		"secure_chroot_dir=" + empty,
		"pasv_enable=YES", fmt.Sprintf("pasv_min_port=%d", lo), fmt.Sprintf("pasv_max_port=%d", hi), "pasv_address=127.0.0.1",
		"seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO",
		"max_clients=0", "max_per_ip=0", "idle_session_timeout=600", "data_connection_timeout=120",
		"xferlog_enable=YES", "xferlog_std_format=NO", "log_ftp_protocol=YES", "vsftpd_log_file=" + s.logf,
		"dirmessage_enable=NO", "use_localtime=NO", "hide_ids=YES",
	}
	if o.TLS {
		reuse := "YES"
		if o.NoSSLReuse {
			reuse = "NO"
		}
		conf = append(conf, "ssl_enable=YES",
			"rsa_cert_file="+filepath.Join(s.tmp, "server.pem"), "rsa_private_key_file="+filepath.Join(s.tmp, "server.key"),
			"force_local_logins_ssl=YES", "force_local_data_ssl=YES", "require_ssl_reuse="+reuse,
			"ssl_ciphers=HIGH", "ssl_tlsv1=YES", "ssl_sslv2=NO", "ssl_sslv3=NO", "allow_anon_ssl=NO")
	}
	confFile := filepath.Join(s.tmp, "vsftpd.conf")
	if err := os.WriteFile(confFile, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = []string{confFile}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// StartPureFTPd starts pure-ftpd (Debian's 1.0.50, from PATH, /usr/sbin
// or PureFTPdDir) on a free loopback port: one virtual user in a PureDB
// made with pure-pw, chrooted into a fresh directory, passive mode on a
// port range, and with Options.TLS, TLS required on control and data
// connections (-Y 3). Skips as StartVsftpd does.
func StartPureFTPd(t testing.TB, o Options) *Server {
	t.Helper()
	bin := findBin("pure-ftpd", PureFTPdDir+"/usr/sbin/pure-ftpd")
	pw := findBin("pure-pw", "/usr/bin/pure-pw", PureFTPdDir+"/usr/bin/pure-pw")
	if bin == "" || pw == "" {
		unavailable(t, "pure-ftpd (and pure-pw) not found; install it with: "+PureFTPdInstall)
	}
	needRoot(t, "pure-ftpd")
	s := newServer(t, "pure-ftpd", o)
	s.bin = bin
	pdb := filepath.Join(s.tmp, "pureftpd.pdb")
	cmd := exec.Command(pw, "useradd", s.User, "-u", "ftp", "-g", "ftp", "-d", s.Dir,
		"-f", filepath.Join(s.tmp, "pureftpd.passwd"), "-F", pdb, "-m")
	cmd.Stdin = strings.NewReader(s.Password + "\n" + s.Password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pure-pw useradd: %v\n%s", err, out)
	}
	fastHash(t, pw, filepath.Join(s.tmp, "pureftpd.passwd"), pdb, s.Password)
	lo, hi := passiveRange()
	s.args = []string{
		"-S", fmt.Sprintf("127.0.0.1,%d", s.Port), "-4", "-l", "puredb:" + pdb, "-E", "-A", "-H",
		"-p", fmt.Sprintf("%d:%d", lo, hi), "-P", "127.0.0.1", "-c", "200", "-C", "200", "-I", "10",
		"-u", "1", "-m", "10000",
	}
	if o.TLS {
		s.args = append(s.args, "-Y", "3", "-2", filepath.Join(s.tmp, "both.pem"))
	} else {
		s.args = append(s.args, "-Y", "0")
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// start launches the server and waits until it greets on its port.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("%s already running", s.Kind)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.Kind, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.output = cmd, done, out
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 3)
			_, rerr := c.Read(buf)
			c.Close()
			if rerr == nil && string(buf) == "220" {
				return nil
			}
		}
		select {
		case <-done:
			s.cmd = nil
			return fmt.Errorf("%s exited: %s%s", s.Kind, out.String(), s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("%s did not greet on %s within 20s: %s", s.Kind, s.Addr(), out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server and every session process it forked (its data
// stays, for Restart). It is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	for _, pid := range descendants(s.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts a stopped server again on the same port and directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarting %s: %v", s.Kind, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// KillSessions kills the session processes (every open control
// connection) and leaves the listener running: clients see their control
// connections dropped.
func (s *Server) KillSessions(t testing.TB) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	n := 0
	for _, pid := range descendants(s.cmd.Process.Pid) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// Log is the server's log file (vsftpd's protocol log), for failure
// messages.
func (s *Server) Log() string {
	data, _ := os.ReadFile(s.logf)
	if len(data) > 8000 {
		data = data[len(data)-8000:]
	}
	return string(data)
}

// descendants lists the processes below pid (session processes call
// setsid, so a process group would not find them).
func descendants(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

// fastHash replaces the argon2id hash pure-pw makes (about 2 s of CPU per
// login on a small VM, which every new connection pays) with a SHA-512
// crypt hash, which pure-ftpd checks through crypt(3), and rebuilds the
// PureDB. Without openssl the slow hash stays.
func fastHash(t testing.TB, pw, passwd, pdb, password string) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		return
	}
	out, err := exec.Command(openssl, "passwd", "-6", "-salt", randHex(8), password).Output()
	if err != nil {
		return
	}
	data, err := os.ReadFile(passwd)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.SplitN(strings.TrimRight(string(data), "\n"), ":", 3)
	if len(f) != 3 {
		return
	}
	line := f[0] + ":" + strings.TrimSpace(string(out)) + ":" + f[2] + "\n"
	if err := os.WriteFile(passwd, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pw, "mkdb", pdb, "-f", passwd).CombinedOutput(); err != nil {
		t.Fatalf("pure-pw mkdb: %v\n%s", err, out)
	}
}

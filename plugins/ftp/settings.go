package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/sdk"
)

var settingsDecl = []sdk.Setting{
	{Name: "host", Required: true, Help: "the FTP server's host name or IP address"},
	{Name: "port", Help: "control port (default 21; 990 with tls = implicit)"},
	{Name: "user", Required: true, Help: "the account to log in as"},
	{Name: "password", Secret: true, Help: "the account's password (or password_env)"},
	{Name: "password_env", Help: "name of an environment variable holding the password, instead of password"},
	{Name: "root", Help: "directory on the server that holds the objects, created if missing; relative to the login directory unless it starts with / (default: the login directory)"},
	{Name: "tls", Help: "explicit (AUTH TLS, the default) | implicit (TLS from the first byte, port 990) | none (plain FTP: password and data in clear)"},
	{Name: "ca_file", Help: "PEM file of the CA (or self-signed certificate) to trust for the server's certificate, besides the system's; verification is never skipped"},
	{Name: "server_name", Help: "the name the server's certificate must carry (default: host)"},
	{Name: "timeout_seconds", Help: "dial timeout and the longest silence on a control or data connection (default 30; at most a quarter of lock_lease_seconds)"},
	{Name: "connections", Help: "most connections (logins) kept open to the server, one operation each at a time (default 4, 1–32)"},
	{Name: "lock_lease_seconds", Help: "lease of a key's lock directory (conditional and replacing writes): a lock left unchanged this long by a crashed writer is broken (default 120, at least 2)"},
}

const (
	defaultTimeout = 30 * time.Second
	defaultConns   = 4
	defaultLease   = 120 * time.Second
)

type tlsMode string

const (
	tlsExplicit tlsMode = "explicit"
	tlsImplicit tlsMode = "implicit"
	tlsNone     tlsMode = "none"
)

// config is the validated settings.
type config struct {
	host, addr string
	user       string
	password   string
	root       string // as given
	tls        tlsMode
	tlsConfig  *tls.Config // nil for tls = none
	timeout    time.Duration
	conns      int
	lease      time.Duration
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("ftp: %w: %s", sdk.ErrInvalidSettings, fmt.Sprintf(format, args...))
}

// parseSettings checks everything that can be checked offline.
func parseSettings(settings map[string]string) (*config, error) {
	if err := sdk.CheckSettings("ftp", settingsDecl, settings); err != nil {
		return nil, err
	}
	c := &config{host: settings["host"], user: settings["user"], root: settings["root"]}
	if strings.ContainsAny(c.host, "/ \t") {
		return nil, invalid("host = %q: want a host name or IP address, without scheme or path", c.host)
	}
	c.tls = tlsMode(settings["tls"])
	switch c.tls {
	case "":
		c.tls = tlsExplicit
	case tlsExplicit, tlsImplicit, tlsNone:
	default:
		return nil, invalid("tls = %q: want explicit, implicit or none", settings["tls"])
	}
	port := 21
	if c.tls == tlsImplicit {
		port = 990
	}
	if v := settings["port"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return nil, invalid("port = %q: want a number from 1 to 65535", v)
		}
		port = n
	}
	c.addr = net.JoinHostPort(c.host, strconv.Itoa(port))
	pw, env := settings["password"], settings["password_env"]
	switch {
	case pw != "" && env != "":
		return nil, invalid("set password or password_env, not both")
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, invalid("password_env = %q: no such environment variable in the game's environment", env)
		}
		pw = v
	}
	c.password = pw
	for name, v := range map[string]string{"user": c.user, "password": c.password, "root": c.root} {
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, invalid("%s contains a line break or NUL, which FTP cannot send", name)
		}
	}
	var err error
	if c.timeout, err = secondsSetting(settings, "timeout_seconds", defaultTimeout, 0.1, 3600); err != nil {
		return nil, err
	}
	if c.lease, err = secondsSetting(settings, "lock_lease_seconds", defaultLease, 2, 86400); err != nil {
		return nil, err
	}
	if c.timeout > c.lease/4 {
		// The stale-lock rule (lock.go) needs every step of a holder to
		// end well inside the lease.
		return nil, invalid("timeout_seconds (%v) must be at most a quarter of lock_lease_seconds (%v)", c.timeout, c.lease)
	}
	c.conns = defaultConns
	if v := settings["connections"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 32 {
			return nil, invalid("connections = %q: want a number from 1 to 32", v)
		}
		c.conns = n
	}
	if c.tls == tlsNone {
		if settings["ca_file"] != "" || settings["server_name"] != "" {
			return nil, invalid("ca_file and server_name apply to TLS; tls = none sends everything in clear")
		}
		return c, nil
	}
	name := settings["server_name"]
	if name == "" {
		name = c.host
	}
	c.tlsConfig = &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
	if f := settings["ca_file"]; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, invalid("ca_file: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, invalid("ca_file %s holds no PEM certificate", f)
		}
		c.tlsConfig.RootCAs = pool
	}
	return c, nil
}

func secondsSetting(settings map[string]string, name string, def time.Duration, lo, hi float64) (time.Duration, error) {
	v := settings[name]
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		return 0, invalid("%s = %q: want a number of seconds from %g to %g", name, v, lo, hi)
	}
	return time.Duration(f * float64(time.Second)), nil
}

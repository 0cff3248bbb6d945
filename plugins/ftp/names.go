package main

import (
	"strings"
)

// Names on the server. Every key segment is escaped into a conservative
// alphabet so that no server, parser or glob sees anything but
// [A-Za-z0-9._-] and "%XX": the bytes A–Z a–z 0–9 '.' '_' '-' stay as they
// are (except a leading '.' or '-'), every other byte becomes '%' and two
// upper-case hex digits. Engine keys ("breakout/alice/sessions/S/00000001.seg")
// are thus stored under their own names, and a name with spaces, a leading
// dash, a glob character or a trailing space never reaches a command or a
// LIST line. Names that escape cannot produce belong to the plugin:
//
//	.NAME%m      sidecar of object NAME (JSON: size, ETag, time, metadata)
//	.NAME%l      lock directory of key NAME (see lock.go)
//	.%k<id>      a lock being prepared
//	.%t<id>      temporary upload
//
// Decoding is strict (the canonical escape of the decoded name must be the
// name), so these and foreign files never list as keys.

const (
	metaSuffix = "%m"
	lockSuffix = "%l"
	prepPrefix = ".%k"
	tmpPrefix  = ".%t"
)

func safeByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

const hexDigits = "0123456789ABCDEF"

// escapeSeg escapes one key segment into a server name.
func escapeSeg(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) && !(i == 0 && (c == '.' || c == '-')) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeSeg reverses escapeSeg; ok is false for every name escapeSeg
// cannot produce (the plugin's own files, foreign files).
func unescapeSeg(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		hi, ok1 := unhex(name[i+1])
		lo, ok2 := unhex(name[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	s := b.String()
	if s == "." || s == ".." || escapeSeg(s) != name {
		return "", false
	}
	return s, true
}

// maxName is the longest escaped segment: the common 255-byte file-name
// limit less the sidecar's and lock's "." and two-byte suffix.
const maxName = 255 - 3

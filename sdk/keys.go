package sdk

import (
	"strings"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes.
const MaxKeyLen = 1024

// ValidateKey checks a key against the rules every backend may rely on:
// non-empty UTF-8, at most MaxKeyLen bytes, no leading '/', no empty, '.'
// or '..' segment, no NUL or other control characters, no backslash. Both
// sides of the wire call it, so no backend can be walked out of its root.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return invalidKey(key, "empty")
	case len(key) > MaxKeyLen:
		return invalidKey(key[:32]+"…", "longer than 1024 bytes")
	case !utf8.ValidString(key):
		return invalidKey(key, "not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return invalidKey(key, "starts with '/'")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return invalidKey(key, "contains a control character")
		}
		if r == '\\' {
			return invalidKey(key, "contains a backslash")
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return invalidKey(key, "has an empty path segment ('//' or a trailing '/')")
		case ".", "..":
			return invalidKey(key, "has a '.' or '..' segment")
		}
	}
	return nil
}

// ValidatePrefix checks a List prefix: "" (everything) or a key prefix
// that obeys ValidateKey's rules apart from a trailing '/'.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/"))
}

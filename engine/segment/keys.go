package segment

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Where segments live in every sink: GAME/PLAYER/sessions/SESSION/NNNNNNNN.seg
// (DESIGN.md). The layout is here, with the format, so that the engine
// (which writes it) and the cgo-free tool (which reads it) share one
// definition.

// SessionPrefix returns GAME/PLAYER/sessions/SESSION/, the prefix of a
// session's segment keys.
func SessionPrefix(game, player, session string) string {
	return game + "/" + player + "/sessions/" + session + "/"
}

// Key returns the key of segment index under a session prefix.
func Key(prefix string, index uint64) string {
	return fmt.Sprintf("%s%08d.seg", prefix, index)
}

// NewSessionID returns an id that sorts by start time: UTC to the
// millisecond, plus a suffix against collisions.
func NewSessionID(start time.Time) string {
	return start.UTC().Format("20060102T150405.000Z") + fmt.Sprintf("-%04x", start.UnixNano()&0xffff)
}

// KeyParts is a segment key taken apart.
type KeyParts struct {
	Game, Player, Session string
	Index                 uint64
}

// Prefix returns the session prefix of the key.
func (k KeyParts) Prefix() string { return SessionPrefix(k.Game, k.Player, k.Session) }

// ParseKey takes a segment key apart; ok is false for any other key (saves,
// stray files), which readers skip.
func ParseKey(key string) (k KeyParts, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 5 || parts[2] != "sessions" {
		return KeyParts{}, false
	}
	for _, p := range parts[:4] {
		if p == "" {
			return KeyParts{}, false
		}
	}
	name, found := strings.CutSuffix(parts[4], ".seg")
	if !found || len(name) < 8 {
		return KeyParts{}, false
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return KeyParts{}, false
		}
	}
	idx, err := strconv.ParseUint(name, 10, 64)
	if err != nil {
		return KeyParts{}, false
	}
	return KeyParts{Game: parts[0], Player: parts[1], Session: parts[3], Index: idx}, true
}

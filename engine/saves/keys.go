package saves

import (
	"fmt"
	"regexp"
	"strings"
)

// Keys: GAME/PLAYER/saves/SLOT/ID.sav, where ID is the version's clock
// stamp and the writing device ("0001764614400000.000000-d1a2b3c4d5"), or
// for a merge the parents' latest stamp plus one and a digest of the
// parents ("…-m0123456789"), the same on every device that makes it.

const versionExt = ".sav"

var (
	slotName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	versionID = regexp.MustCompile(`^[0-9]{13}\.[0-9]{6}-[a-z0-9]{1,24}$`)
)

// ValidSlot checks a slot name: 1–64 letters, digits, '.', '_' or '-',
// starting with a letter or digit.
func ValidSlot(slot string) error {
	if !slotName.MatchString(slot) {
		return fmt.Errorf("saves: slot name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", slot)
	}
	return nil
}

// Prefix is where a player's saves live in every sink: GAME/PLAYER/saves/.
func Prefix(game, player string) string { return game + "/" + player + "/saves/" }

// versionKey is the key of version id of slot.
func versionKey(game, player, slot, id string) string {
	return Prefix(game, player) + slot + "/" + id + versionExt
}

// parseVersionKey returns the slot and id of a version key (any prefix).
func parseVersionKey(key string) (slot, id string, ok bool) {
	i := strings.LastIndex(key, "/saves/")
	if i < 0 || !strings.HasSuffix(key, versionExt) {
		return "", "", false
	}
	slot, file, ok := strings.Cut(key[i+len("/saves/"):], "/")
	if !ok || strings.Contains(file, "/") {
		return "", "", false
	}
	id = strings.TrimSuffix(file, versionExt)
	if ValidSlot(slot) != nil || !versionID.MatchString(id) {
		return "", "", false
	}
	return slot, id, true
}

// IsVersionKey reports whether key names a save version (what the spool
// may treat as already delivered when a sink says it exists).
func IsVersionKey(key string) bool { _, _, ok := parseVersionKey(key); return ok }

// idClock returns the stamp an id starts with.
func idClock(id string) HLC {
	h, _ := ParseHLC(id[:20])
	return h
}

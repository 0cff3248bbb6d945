package segment

import (
	"testing"
	"time"
)

func TestKeyRoundTrip(t *testing.T) {
	id := NewSessionID(time.Date(2026, 11, 24, 20, 1, 2, 345e6, time.UTC))
	key := Key(SessionPrefix("breakout", "alice", id), 12)
	if want := "breakout/alice/sessions/" + id + "/00000012.seg"; key != want {
		t.Fatalf("Key = %q, want %q", key, want)
	}
	k, ok := ParseKey(key)
	if !ok || k.Game != "breakout" || k.Player != "alice" || k.Session != id || k.Index != 12 || k.Prefix() != SessionPrefix("breakout", "alice", id) {
		t.Fatalf("ParseKey(%q) = %+v, %v", key, k, ok)
	}
	for _, bad := range []string{
		"breakout/alice/saves/slot1",
		"breakout/alice/sessions/S/1.seg",
		"breakout/alice/sessions/S/0000000x.seg",
		"breakout/alice/sessions/S/00000001.seg.tmp",
		"breakout/alice/sessions//00000001.seg",
		"breakout/alice/sessions/S/sub/00000001.seg",
		"alice/sessions/S/00000001.seg",
	} {
		if k, ok := ParseKey(bad); ok {
			t.Errorf("ParseKey(%q) = %+v, want not a segment key", bad, k)
		}
	}
}

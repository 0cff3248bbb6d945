package segment

import (
	"reflect"
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

func TestManifest(t *testing.T) {
	prefix := SessionPrefix("arena", "bob", "S1")
	k, ok := ParseManifestKey(ManifestKey(prefix))
	if !ok || k.Prefix() != prefix {
		t.Fatalf("ParseManifestKey(%q) = %+v, %v", ManifestKey(prefix), k, ok)
	}
	if _, ok := ParseManifestKey(prefix + "00000000.seg"); ok {
		t.Fatal("a segment key parsed as a manifest key")
	}
	if _, ok := ParseKey(ManifestKey(prefix)); ok {
		t.Fatal("a manifest key parsed as a segment key")
	}
	m := Manifest{Game: "arena", Player: "bob", Session: "S1", Start: time.Unix(10, 0).UTC(), End: time.Unix(20, 0).UTC(), Width: 4, Height: 2, Segments: 3, Sequenced: 100, Frames: 97, Dropped: 3,
		Lost: []LostSegment{{Index: 1, FirstSeq: 40, Frames: 30, Reason: "no room in the spool"}}}
	b, err := MarshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(b)
	m.Version = ManifestVersion
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, m)
	}
	for _, bad := range []string{`{`, `{"version":2}`, `{"version":1,"sequenced":1,"frames":2}`,
		`{"version":1,"segments":1,"sequenced":9,"frames":9,"lost":[{"index":1,"frames":2}]}`,
		`{"version":1,"segments":2,"sequenced":9,"frames":3,"lost":[{"index":1,"frames":4}]}`} {
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("ParseManifest(%s) accepted", bad)
		}
	}
}

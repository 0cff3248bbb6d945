package saves

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/sdk"
)

func withPass(p string) func(*Options) { return func(o *Options) { o.Passphrase = p } }

// Two devices with the same passphrase (and their own salts) read each
// other's encrypted versions; the sink holds no plaintext.
func TestEncryptedAcrossDevices(t *testing.T) {
	r := newMemRemote()
	a := device(t, t.TempDir(), r, withPass("correct horse"))
	b := device(t, t.TempDir(), r, withPass("correct horse"))
	var p progress
	p.Name.Set("secret-name-4711")
	p.Coins.Add(3)
	a.Save("progress", &p, Meta{Description: "secret-description"})
	flush(t, a)
	for _, k := range r.keys(t, "") {
		var sb strings.Builder
		r.Backend.Get(context.Background(), k, &sb, sdk.GetOptions{})
		if strings.Contains(sb.String(), "secret-name-4711") || strings.Contains(sb.String(), "secret-description") || strings.Contains(sb.String(), a.deviceID) {
			t.Fatalf("%s holds plaintext", k)
		}
	}
	syncNow(t, b)
	var got progress
	v, err := b.Load("progress", &got)
	if err != nil || got.Name.Get() != "secret-name-4711" || got.Coins.Value() != 3 || !v.Encrypted {
		t.Fatalf("B read %+v %+v %v", got, v, err)
	}
}

func TestWrongPassphraseAndTampering(t *testing.T) {
	r := newMemRemote()
	dirA := t.TempDir()
	a := device(t, dirA, r, withPass("right"))
	a.Save("s", []byte("payload"), Meta{})
	flush(t, a)
	a.Close()
	// Locally: a clear error, and nothing is moved aside.
	_, err := Open(Options{Dir: dirA, Game: "g", Player: "p", Poll: -1, Passphrase: "wrong", Logger: quietLogger()})
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Open with the wrong passphrase: %v", err)
	}
	if _, err := Open(Options{Dir: dirA, Game: "g", Player: "p", Poll: -1, Logger: quietLogger()}); !errors.Is(err, ErrNeedPassphrase) || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("Open without a passphrase: %v", err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dirA, "g", "p", "corrupt", "*")); len(aside) != 0 {
		t.Fatalf("a wrong passphrase moved files aside: %v", aside)
	}
	// Remotely: refused, named.
	b := device(t, t.TempDir(), r, withPass("wrong"))
	b.Sync(context.Background())
	if len(b.bad) != 1 || !strings.Contains(strings.Join(values(b.bad), ""), "wrong passphrase") {
		t.Fatalf("B with the wrong passphrase: %v", b.bad)
	}
	// A flipped byte anywhere in the object is refused as tampered.
	keys := r.keys(t, "g/p/saves/")
	var sb strings.Builder
	r.Backend.Get(context.Background(), keys[0], &sb, sdk.GetOptions{})
	data := []byte(sb.String())
	for _, at := range []int{len(data) - 1, len(data) / 2, 40} {
		bad := append([]byte(nil), data...)
		bad[at] ^= 0x01
		if _, err := decodeVersion(keys[0], bad, "right"); !errors.Is(err, ErrTampered) && !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("byte %d flipped: %v, want ErrTampered", at, err)
		}
	}
	// Moved to another key (slot or id): the key is authenticated.
	other := strings.Replace(keys[0], "/saves/s/", "/saves/t/", 1)
	if _, err := decodeVersion(other, data, "right"); !errors.Is(err, ErrTampered) {
		t.Errorf("moved to %s: %v", other, err)
	}
	if _, err := decodeVersion(keys[0], data, "right"); err != nil {
		t.Fatalf("the untouched object: %v", err)
	}
	// A plain version where encryption is required is refused.
	c := device(t, t.TempDir(), r, nil)
	c.Save("plainslot", []byte("x"), Meta{})
	flush(t, c)
	a2 := device(t, dirA, r, withPass("right"))
	a2.Sync(context.Background())
	if _, err := a2.Load("plainslot", new([]byte)); !errors.Is(err, ErrNotFound) || !strings.Contains(strings.Join(values(a2.bad), ""), "not encrypted") {
		t.Fatalf("plain version accepted by an encrypting store: %v %v", err, a2.bad)
	}

}

func values(m map[string]Refusal) []string {
	var out []string
	for _, v := range m {
		out = append(out, v.Err.Error())
	}
	return out
}

// Old versions are pruned locally (never heads, never unsent ones) and the
// device's own are deleted from the remote; lineage stays exact.
func TestPruning(t *testing.T) {
	r := newMemRemote()
	a := device(t, t.TempDir(), r, func(o *Options) { o.History = 5 })
	var p progress
	for i := 0; i < 30; i++ {
		p.Coins.Add(1)
		if _, err := a.Save("s", &p, Meta{}); err != nil {
			t.Fatal(err)
		}
		flush(t, a)
	}
	if n := len(a.slots["s"].versions); n > 6 {
		t.Fatalf("%d local versions kept, want about History (5)", n)
	}
	syncNow(t, a)
	if n := len(r.keys(t, "g/p/saves/s/")); n > 6 {
		t.Fatalf("%d remote versions after the prune, want about 5", n)
	}
	b := device(t, t.TempDir(), r, nil)
	syncNow(t, b)
	var got progress
	b.Load("s", &got)
	if got.Coins.Value() != 30 {
		t.Fatalf("B reads %d coins, want 30", got.Coins.Value())
	}
}

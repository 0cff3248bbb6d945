package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/skyloop-engine/skyloop/sdk"
	"github.com/skyloop-engine/skyloop/sdk/synctest"
)

func newTestBackend(t *testing.T, root string, settings map[string]string) *backend {
	t.Helper()
	s := map[string]string{"root": root}
	for k, v := range settings {
		s[k] = v
	}
	b, err := newBackend(t.Context(), s)
	if err != nil {
		t.Fatalf("newBackend: %v", err)
	}
	t.Cleanup(func() { b.(*backend).Close() })
	return b.(*backend)
}

func TestConformance(t *testing.T) {
	synctest.Run(t, func(t *testing.T) sdk.Backend {
		return newTestBackend(t, filepath.Join(t.TempDir(), "root"), nil)
	})
}

// TestConformanceNoFsync runs the quicker checks without fsync.
func TestConformanceNoFsync(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	synctest.Run(t, func(t *testing.T) sdk.Backend {
		if strings.Contains(t.Name(), "RoundTrip/Large") {
			t.Skip("run once, in TestConformance")
		}
		return newTestBackend(t, t.TempDir(), map[string]string{"fsync": "false"})
	})
}

func put(t *testing.T, b sdk.Backend, key, data string) sdk.ObjectInfo {
	t.Helper()
	info, err := b.Put(t.Context(), key, strings.NewReader(data), sdk.PutOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

func list(t *testing.T, b sdk.Backend, prefix string) []string {
	t.Helper()
	var keys []string
	if err := b.List(t.Context(), prefix, func(i sdk.ObjectInfo) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func TestSymlinkEscapeRefused(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret%o"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newTestBackend(t, root, nil)
	put(t, b, "ok/key", "fine")
	// A directory link inside the root pointing outside, and a file link.
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret%o"), filepath.Join(root, "ok", "link%o")); err != nil {
		t.Fatal(err)
	}
	// A link that stays inside the root is refused too.
	if err := os.Symlink("ok", filepath.Join(root, "inner")); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, key := range []string{"evil/secret", "evil/new", "ok/link", "inner/key"} {
		if _, err := b.Put(ctx, key, strings.NewReader("overwrite"), sdk.PutOptions{Size: -1}); err == nil {
			t.Errorf("Put(%q) through a symlink succeeded", key)
		} else {
			t.Logf("Put(%q): %v", key, err)
		}
		var buf bytes.Buffer
		if _, err := b.Get(ctx, key, &buf, sdk.GetOptions{Length: -1}); err == nil || buf.Len() > 0 {
			t.Errorf("Get(%q) through a symlink = %q, %v; want an error", key, buf.String(), err)
		}
		if _, err := b.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) through a symlink succeeded", key)
		}
		if err := b.Delete(ctx, key); err == nil && key != "evil/new" {
			t.Errorf("Delete(%q) through a symlink succeeded", key)
		}
	}
	if err := b.List(ctx, "evil/", func(sdk.ObjectInfo) error { return nil }); err == nil {
		t.Error("List(\"evil/\") through a symlink succeeded")
	}
	if got := list(t, b, ""); len(got) != 1 || got[0] != "ok/key" {
		t.Errorf("List(\"\") = %q, want only ok/key (symlinks are skipped)", got)
	}
	got, err := os.ReadFile(filepath.Join(outside, "secret%o"))
	if err != nil || string(got) != "secret" {
		t.Errorf("file outside the root changed: %q, %v", got, err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("files appeared outside the root: %v", ents)
	}
}

// TestCrashLeavesNoHalfObject simulates a crash mid-upload: the temp file
// is left behind, and so is a truncated object file planted by hand.
func TestCrashLeavesNoHalfObject(t *testing.T) {
	root := t.TempDir()
	b := newTestBackend(t, root, nil)
	put(t, b, "g/p/saves/slot1", "v1")
	dir := filepath.Join(root, "g", "p", "saves")
	// What a crash between create and rename leaves.
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"deadbeef"), []byte("half of v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "g", "p", "sessions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "g", "p", "sessions", tmpPrefix+"0123"), []byte("partial segment"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := list(t, b, ""); len(got) != 1 || got[0] != "g/p/saves/slot1" {
		t.Errorf("List = %q, want only the committed object", got)
	}
	var buf bytes.Buffer
	info, err := b.Get(t.Context(), "g/p/saves/slot1", &buf, sdk.GetOptions{Length: -1})
	if err != nil || buf.String() != "v1" || info.Size != 2 {
		t.Errorf("Get = %q, %+v, %v; want v1", buf.String(), info, err)
	}
	// Temp names are not keys: no key maps to them.
	for _, key := range []string{"g/p/saves/" + tmpPrefix + "deadbeef", "g/p/sessions/" + tmpPrefix + "0123"} {
		if _, err := b.Stat(t.Context(), key); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want not found", key, err)
		}
	}
	// A truncated object file (no trailer) is reported, not returned as data.
	if err := os.WriteFile(filepath.Join(dir, "slot2"+objSuffix), []byte("trunc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), "g/p/saves/slot2", &buf, sdk.GetOptions{}); err == nil {
		t.Error("Get of a corrupt object file succeeded")
	} else {
		t.Logf("corrupt object: %v", err)
	}
	// Writing over the leftovers works.
	put(t, b, "g/p/saves/slot1", "v2")
	put(t, b, "g/p/saves/slot2", "v2")
	if got := list(t, b, "g/p/saves/"); len(got) != 2 {
		t.Errorf("List = %q", got)
	}
}

func TestRootUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	base := t.TempDir()
	ro := filepath.Join(base, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	_, err := newBackend(t.Context(), map[string]string{"root": ro})
	if err == nil || !strings.Contains(err.Error(), "not writable") || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("newBackend(read-only root) = %v, want a 'not writable' permission error", err)
	}
	_, err = newBackend(t.Context(), map[string]string{"root": filepath.Join(ro, "sub")})
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("newBackend(root under a read-only dir) = %v, want a permission error", err)
	}
	t.Logf("error: %v", err)
}

func TestRootIsAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newBackend(t.Context(), map[string]string{"root": f}); err == nil {
		t.Error("newBackend with a file as root succeeded")
	}
}

func TestSettings(t *testing.T) {
	p := plugin()
	if p.Info.Name != "disk" || p.Info.Version != "0.1.0" || p.New == nil {
		t.Errorf("plugin() = %+v", p.Info)
	}
	c := p.Info.Capabilities
	if !c.ConditionalWrites || !c.AtomicReplace || !c.RangedReads {
		t.Errorf("capabilities %+v, want all", c)
	}
	dir := t.TempDir()
	if err := sdk.CheckSettings("disk", p.Settings, map[string]string{"root": dir, "fsync": "false"}); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
	err := sdk.CheckSettings("disk", p.Settings, map[string]string{"root": dir, "fsnyc": "false"})
	if !errors.Is(err, sdk.ErrInvalidSettings) || !strings.Contains(err.Error(), `"fsnyc"`) {
		t.Errorf("unknown setting: %v", err)
	}
	err = sdk.CheckSettings("disk", p.Settings, map[string]string{})
	if !errors.Is(err, sdk.ErrInvalidSettings) || !strings.Contains(err.Error(), `"root"`) {
		t.Errorf("missing root: %v", err)
	}
	if _, err := newBackend(t.Context(), map[string]string{"root": dir, "fsync": "maybe"}); !errors.Is(err, sdk.ErrInvalidSettings) {
		t.Errorf("fsync=maybe: %v", err)
	}
	// root is created, with parents.
	deep := filepath.Join(dir, "a", "b", "c")
	newTestBackend(t, deep, nil)
	if fi, err := os.Stat(deep); err != nil || !fi.IsDir() {
		t.Errorf("root not created: %v", err)
	}
}

// TestLayout pins the on-disk names: objects end in objSuffix, '%' is
// escaped, and a key may be both an object and a prefix of others.
func TestLayout(t *testing.T) {
	root := t.TempDir()
	b := newTestBackend(t, root, nil)
	put(t, b, "a", "1")
	put(t, b, "a/b", "2")
	put(t, b, "100%/x%o", "3")
	for _, p := range []string{"a%o", "a/b%o", "100%25/x%25o%o"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("expected file %s: %v", p, err)
		}
	}
	if got := list(t, b, ""); strings.Join(got, ",") != "100%/x%o,a,a/b" {
		t.Errorf("List = %q", got)
	}
	// Deleting the last object removes the directories it leaves empty.
	if err := b.Delete(t.Context(), "100%/x%o"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "100%25")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory left behind: %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root removed: %v", err)
	}
}

// TestPutDeleteRace: Delete removes empty directories while Puts create
// them; every Put must still land.
func TestPutDeleteRace(t *testing.T) {
	b := newTestBackend(t, t.TempDir(), map[string]string{"fsync": "false"})
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				key := "race/d/" + string(rune('a'+i)) + string(rune('a'+j%26))
				if _, err := b.Put(ctx, key, strings.NewReader("x"), sdk.PutOptions{Size: 1}); err != nil {
					errs <- err
					return
				}
				if err := b.Delete(ctx, key); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestTwoProcessesOneRoot: conditional creates from two plugin processes
// sharing a root (flock on the root's lock file) let exactly one win.
func TestTwoProcessesOneRoot(t *testing.T) {
	if os.Getenv("DISK_HELPER_ROOT") != "" {
		b := newTestBackend(t, os.Getenv("DISK_HELPER_ROOT"), nil)
		wins := 0
		for i := range 50 {
			_, err := b.Put(context.Background(), fmt.Sprintf("k/%02d", i), strings.NewReader(os.Getenv("DISK_HELPER_ID")), sdk.PutOptions{Size: -1, IfNoneMatch: true})
			if err == nil {
				wins++
			} else if !errors.Is(err, sdk.ErrPreconditionFailed) {
				t.Fatal(err)
			}
		}
		t.Logf("WINS %d", wins)
		return
	}
	if testing.Short() {
		t.Skip("short")
	}
	root := t.TempDir()
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestTwoProcessesOneRoot$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "DISK_HELPER_ROOT="+root, "DISK_HELPER_ID="+string(rune('0'+i)))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("helper %d: %v\n%s", i, err, out)
			}
			outs[i] = string(out)
		})
	}
	wg.Wait()
	b := newTestBackend(t, root, nil)
	if got := list(t, b, "k/"); len(got) != 50 {
		t.Errorf("%d objects, want 50", len(got))
	}
	total := 0
	for _, o := range outs {
		_, after, ok := strings.Cut(o, "WINS ")
		var n int
		if _, err := fmt.Sscan(after, &n); !ok || err != nil {
			t.Fatalf("helper output: %s", o)
		}
		total += n
	}
	if total != 50 {
		t.Errorf("%d IfNoneMatch creates won across two processes, want exactly 50", total)
	}
}

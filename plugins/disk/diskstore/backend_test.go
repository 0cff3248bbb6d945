package diskstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newTestBackend(t, root, nil)
	put(t, b, "ok/key", "fine")
	// A directory link inside the root pointing outside, and a file link.
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "ok", "link")); err != nil {
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
	got, err := os.ReadFile(filepath.Join(outside, "secret"))
	if err != nil || string(got) != "secret" {
		t.Errorf("file outside the root changed: %q, %v", got, err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("files appeared outside the root: %v", ents)
	}
}

// TestCrashLeavesNoHalfObject simulates crashes: temp files left behind
// by a crash before the rename (in the root, where Put writes them), and a
// crash between the data and sidecar renames.
func TestCrashLeavesNoHalfObject(t *testing.T) {
	root := t.TempDir()
	b := newTestBackend(t, root, nil)
	put(t, b, "g/p/saves/slot1", "v1")
	// What a crash between create and rename leaves: data and sidecar temps.
	for name, data := range map[string]string{tmpPrefix + "deadbeef": "half of v2", tmpPrefix + "0123": `{"etag":"x"}`} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(t, b, ""); len(got) != 1 || got[0] != "g/p/saves/slot1" {
		t.Errorf("List = %q, want only the committed object", got)
	}
	var buf bytes.Buffer
	info, err := b.Get(t.Context(), "g/p/saves/slot1", &buf, sdk.GetOptions{Length: -1})
	if err != nil || buf.String() != "v1" || info.Size != 2 {
		t.Errorf("Get = %q, %+v, %v; want v1", buf.String(), info, err)
	}
	// Temp and sidecar names are not keys: no key maps to them.
	for _, key := range []string{tmpPrefix + "deadbeef", "g/p/saves/" + metaName("slot1"), "g/p/saves/slot1" + altSuffix} {
		if _, err := b.Stat(t.Context(), key); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want not found", key, err)
		}
	}
	// A crash after the data rename, before the sidecar's: the new content
	// with the old sidecar, or (new key) with none.
	dir := filepath.Join(root, "g", "p", "saves")
	sc, err := os.ReadFile(filepath.Join(dir, metaName("slot1")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slot1"), []byte("v2!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slot2"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"g/p/saves/slot1": "v2!", "g/p/saves/slot2": "new"} {
		buf.Reset()
		info, err := b.Get(t.Context(), key, &buf, sdk.GetOptions{Length: -1})
		if err != nil || buf.String() != want || info.Size != int64(len(want)) || info.ETag != sha(want) {
			t.Errorf("Get(%q) = %q, %+v, %v; want %q with ETag %s", key, buf.String(), info, err, want, sha(want))
		}
	}
	if sc2, _ := os.ReadFile(filepath.Join(dir, metaName("slot1"))); bytes.Equal(sc, sc2) {
		t.Error("stale sidecar not rewritten")
	}
	// Writing over the leftovers works.
	put(t, b, "g/p/saves/slot1", "v3")
	put(t, b, "g/p/saves/slot2", "v3")
	if got := list(t, b, "g/p/saves/"); len(got) != 2 {
		t.Errorf("List = %q", got)
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
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
	p := Plugin()
	if p.Info.Name != "disk" || p.Info.Version != "0.1.0" || p.New == nil {
		t.Errorf("Plugin() = %+v", p.Info)
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

// TestLayout pins the on-disk names: objects are plain files at their
// key's path, '%' is escaped, sidecars sit beside them, and a key may be
// both an object and a prefix of others (in either order of creation).
func TestLayout(t *testing.T) {
	root := t.TempDir()
	b := newTestBackend(t, root, nil)
	put(t, b, "a", "1")
	put(t, b, "a/b", "2") // "a" is a file: children go to "a%d"
	put(t, b, "c/d", "3") // "c" is a directory first
	put(t, b, "c", "4")   // …so the object is "c/%o"
	put(t, b, "100%/x%o", "5")
	files := map[string]string{
		"a": "1", "a%d/b": "2", "c/d": "3", "c/%o": "4", "100%25/x%25o": "5",
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(got) != want {
			t.Errorf("file %s = %q, %v; want %q", p, got, err, want)
		}
		sc := filepath.Join(root, filepath.Dir(p), metaName(filepath.Base(p)))
		if fi, err := os.Stat(sc); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("sidecar %s: %v", sc, err)
		}
		if fi, err := os.Stat(filepath.Join(root, p)); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("file %s: mode %v, %v; want 0644", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "100%25")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v, %v; want 0755", fi.Mode(), err)
	}
	if got := list(t, b, ""); strings.Join(got, ",") != "100%/x%o,a,a/b,c,c/d" {
		t.Errorf("List = %q", got)
	}
	for _, p := range []string{"a/", "a", "a/b", "c", "c/"} {
		t.Logf("List(%q) = %q", p, list(t, b, p))
	}
	if got := list(t, b, "a/"); strings.Join(got, ",") != "a/b" {
		t.Errorf("List(a/) = %q", got)
	}
	if got := list(t, b, "c"); strings.Join(got, ",") != "c,c/d" {
		t.Errorf("List(c) = %q", got)
	}
	// Deleting the last object removes the directories it leaves empty.
	for _, k := range []string{"100%/x%o", "a/b", "c/d", "c"} {
		if err := b.Delete(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"100%25", "a%d", "c"} {
		if _, err := os.Stat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("empty directory %s left behind: %v", p, err)
		}
	}
	if got := list(t, b, ""); strings.Join(got, ",") != "a" {
		t.Errorf("List = %q", got)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root removed: %v", err)
	}
}

// TestPlainSegmentFile: a stored segment is a plain file at ROOT/<key>,
// byte-identical to what was Put; a data file replaced behind the plugin's
// back yields the new content's ETag, and the sidecar is repaired.
func TestPlainSegmentFile(t *testing.T) {
	root := t.TempDir()
	b := newTestBackend(t, root, nil)
	ctx := t.Context()
	key := "breakout/alice/sessions/S/00000000.seg"
	seg := make([]byte, 3<<20+17)
	for i := range seg {
		seg[i] = byte(i*7 + i>>11)
	}
	info, err := b.Put(ctx, key, bytes.NewReader(seg), sdk.PutOptions{Size: int64(len(seg)), Metadata: map[string]string{"frames": "60"}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "breakout", "alice", "sessions", "S", "00000000.seg")
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, seg) {
		t.Fatalf("%s: %d bytes, %v; want the %d bytes Put, byte for byte", file, len(got), err, len(seg))
	}
	if info.ETag != sha(string(seg)) {
		t.Errorf("ETag %s, want SHA-256 %s", info.ETag, sha(string(seg)))
	}
	ents, _ := os.ReadDir(filepath.Dir(file))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != ".00000000.seg%m,00000000.seg" {
		t.Errorf("directory holds %q, want the segment and its sidecar", names)
	}
	// Readers that glob for segments find only the segment.
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "*.seg")); len(m) != 1 || m[0] != file {
		t.Errorf("Glob(*.seg) = %q", m)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 2 { // breakout, %lock
		t.Errorf("root holds %v: temp files left behind?", ents)
	}

	// Replaced behind the plugin's back (same size, so only the time and
	// content differ).
	repl := bytes.Clone(seg)
	repl[12345] ^= 0xff
	if err := os.WriteFile(file+".new", repl, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".new", file); err != nil {
		t.Fatal(err)
	}
	for range 2 { // repaired, then served from the repaired sidecar
		st, err := b.Stat(ctx, key)
		if err != nil || st.ETag != sha(string(repl)) || st.Size != int64(len(repl)) || st.Metadata["frames"] != "60" {
			t.Errorf("Stat = %+v, %v; want ETag %s", st, err, sha(string(repl)))
		}
	}
	var buf bytes.Buffer
	gi, err := b.Get(ctx, key, &buf, sdk.GetOptions{Length: -1})
	if err != nil || !bytes.Equal(buf.Bytes(), repl) || gi.ETag != sha(string(repl)) {
		t.Errorf("Get = %d bytes, %+v, %v", buf.Len(), gi, err)
	}
	// Conditional writes see the new ETag.
	if _, err := b.Put(ctx, key, strings.NewReader("x"), sdk.PutOptions{Size: 1, IfMatch: info.ETag}); !errors.Is(err, sdk.ErrPreconditionFailed) {
		t.Errorf("If-Match with the old ETag: %v, want precondition failed", err)
	}
	if _, err := b.Put(ctx, key, strings.NewReader("x"), sdk.PutOptions{Size: 1, IfMatch: sha(string(repl))}); err != nil {
		t.Errorf("If-Match with the recomputed ETag: %v", err)
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 1 {
		t.Errorf("after Delete root holds %v, want only the lock file", ents)
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

// TestMetadataFollowsContent: readers racing overwrites (some caught
// between a Put's data and sidecar renames) always get the metadata and
// ETag of the content they read.
func TestMetadataFollowsContent(t *testing.T) {
	b := newTestBackend(t, t.TempDir(), map[string]string{"fsync": "false"})
	ctx := t.Context()
	const key = "race/meta"
	content := func(i int) string { return fmt.Sprintf("version %d %s", i, strings.Repeat("x", i%7*100)) }
	put(t, b, key, content(0))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 100)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var buf bytes.Buffer
				info, err := b.Get(ctx, key, &buf, sdk.GetOptions{Length: -1})
				if err != nil {
					errs <- err
					return
				}
				var v int
				fmt.Sscan(info.Metadata["v"], &v)
				if want := content(v); buf.String() != want || info.ETag != sha(want) {
					errs <- fmt.Errorf("Get: %q with metadata v=%q and ETag %s", buf.String(), info.Metadata["v"], info.ETag)
					return
				}
			}
		})
	}
	for i := 1; i <= 300; i++ {
		c := content(i)
		if _, err := b.Put(ctx, key, strings.NewReader(c), sdk.PutOptions{Size: -1, Metadata: map[string]string{"v": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLongSegmentRefused(t *testing.T) {
	root := t.TempDir()
	b := newTestBackend(t, root, nil)
	put(t, b, "long/"+strings.Repeat("s", maxSegment), "fits")
	_, err := b.Put(t.Context(), "long/"+strings.Repeat("s", maxSegment+1), strings.NewReader("x"), sdk.PutOptions{Size: 1})
	if err == nil || sdk.IsRetryable(err) || !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("Put of a %d-byte segment: %v, want a permanent error", maxSegment+1, err)
	}
	if got := list(t, b, ""); len(got) != 1 {
		t.Errorf("List = %q", got)
	}
}

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// version reports what the toolchain embedded in the binary: checked
// against 'go version -m' on the real binary, built with VCS stamping when
// the tree is a git checkout (GOFLAGS may say -buildvcs=false), so the
// revision is the checkout's HEAD.
func TestVersion(t *testing.T) {
	bin := buildTool(t)
	head, gitErr := exec.Command("git", "rev-parse", "HEAD").Output()
	if gitErr == nil {
		bin = filepath.Join(t.TempDir(), "skyloop")
		cmd := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "github.com/skyloop-engine/skyloop/tools/skyloop")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
		}
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(runBinary(t, bin, "version", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	m, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := versionInfo{Platform: runtime.GOOS + "/" + runtime.GOARCH}
	for _, l := range strings.Split(string(m), "\n") {
		f := strings.Split(strings.TrimSpace(l), "\t")
		switch {
		case strings.HasPrefix(l, bin+": "):
			want.Go = strings.TrimPrefix(l, bin+": ")
		case len(f) >= 3 && f[0] == "mod":
			want.Module, want.Version = f[1], f[2]
		case len(f) == 2 && f[0] == "build":
			k, val, _ := strings.Cut(f[1], "=")
			switch k {
			case "vcs.revision":
				want.Revision = val
			case "vcs.time":
				want.Time = val
			case "vcs.modified":
				want.Modified = val == "true"
			}
		}
	}
	if want.Module != "github.com/skyloop-engine/skyloop" || want.Go == "" {
		t.Fatalf("test: could not read 'go version -m' output:\n%s", m)
	}
	if gitErr == nil && (want.Revision != strings.TrimSpace(string(head)) || want.Time == "") {
		t.Fatalf("test: the binary was not stamped with HEAD %s: %+v", head, want)
	}
	if v != want {
		t.Fatalf("version --json = %+v\ngo version -m says %+v", v, want)
	}
	text := runBinary(t, bin, "version")
	for _, s := range []string{want.Module + " " + want.Version, want.Go, want.Revision} {
		if !strings.Contains(text, s) {
			t.Errorf("version does not say %q:\n%s", s, text)
		}
	}
	if _, errOut, code := runTool(t, "version", "extra"); code != 2 {
		t.Errorf("version extra: exit %d, %q", code, errOut)
	}
}

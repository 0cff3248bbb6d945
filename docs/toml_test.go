package docs

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/config"
)

// TestTOMLBlocks parses every ```toml block with engine/config.Parse, as a
// game or the tool would read it from a file.
func TestTOMLBlocks(t *testing.T) {
	blocks := blocksOf(t, "toml")
	if len(blocks) == 0 {
		t.Fatal("no ```toml blocks found")
	}
	for _, b := range blocks {
		if _, err := config.Parse(b.where(), []byte(b.Body)); err != nil {
			t.Errorf("%s: the ```toml block does not parse: %v", b.where(), err)
		}
	}
}

// TestConfigKeysDocumented: the README's Config section (its block and the
// text after it) names every key engine/config decodes, so the documented
// example cannot fall behind the code.
func TestConfigKeysDocumented(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	start := strings.Index(readme, "\n## Config\n")
	if start < 0 {
		t.Fatal("README.md has no \"## Config\" section")
	}
	section := readme[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	var keys []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			keys = append(keys, prefix+tag)
			switch ft := f.Type; {
			case ft.Kind() == reflect.Struct:
				walk(prefix+tag+".", ft)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(prefix+tag+".", ft.Elem())
			}
		}
	}
	walk("", reflect.TypeFor[config.Config]())
	if len(keys) < 10 {
		t.Fatalf("found only %d config keys by reflection: %q", len(keys), keys)
	}
	for _, k := range keys {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(leaf) + `($|[^A-Za-z0-9_])`).MatchString(section) {
			t.Errorf("README.md's Config section does not mention the config key %s", k)
		}
	}
}

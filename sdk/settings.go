package sdk

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Setting declares one key of a plugin's settings map.
type Setting struct {
	Name     string
	Required bool
	Secret   bool // never logged or echoed back
	Help     string
}

// CheckSettings validates settings against the declared keys and returns an
// error (wrapping ErrInvalidSettings) naming every unknown key, with the
// known ones, and every missing required key.
func CheckSettings(plugin string, decl []Setting, settings map[string]string) error {
	known := map[string]Setting{}
	var names []string
	for _, s := range decl {
		known[s.Name] = s
		names = append(names, s.Name)
	}
	sort.Strings(names)
	var problems []string
	var unknown []string
	for k := range settings {
		if _, ok := known[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Sprintf("unknown setting %q (known: %s)", k, strings.Join(names, ", ")))
	}
	for _, s := range decl {
		if v, ok := settings[s.Name]; s.Required && (!ok || v == "") {
			problems = append(problems, fmt.Sprintf("missing required setting %q (%s)", s.Name, s.Help))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("plugin %s: %w: %s", plugin, ErrInvalidSettings, strings.Join(problems, "; "))
}

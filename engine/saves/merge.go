package saves

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Merging works on the JSON form of a save (decoded with UseNumber, so
// numbers stay exact), so the engine, a second device and the tool merge
// the same way without the game's Go types. Typed fields (types.go) are
// joins: commutative, associative and idempotent, so any order of merges
// gives the same result and merging again changes nothing.

func decodeTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

func encodeTree(v any) ([]byte, error) { return json.Marshal(v) }

// typedKind names the merge rule of a JSON value, "" for plain values.
func typedKind(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if _, ok := m["$lww"]; ok {
		return "$lww"
	}
	if len(m) != 1 {
		return ""
	}
	for k := range m {
		switch k {
		case "$best", "$least", "$counter", "$unlocks":
			return k
		}
	}
	return ""
}

// mergeHeads merges two concurrent versions. Typed fields join; plain
// values equal on both sides stay; objects merge key by key (a key on one
// side only is kept); any other difference is a conflict, resolved by
// taking winner's side (0: a, 1: b) and listed by path in conflicts.
func mergeHeads(a, b any, winner int, path string, conflicts *[]string) any {
	ka, kb := typedKind(a), typedKind(b)
	if ka != "" && ka == kb {
		if v, ok := joinTyped(ka, a.(map[string]any), b.(map[string]any)); ok {
			return v
		}
	}
	if ka == "" && kb == "" {
		ma, aok := a.(map[string]any)
		mb, bok := b.(map[string]any)
		if aok && bok {
			out := make(map[string]any, len(ma)+len(mb))
			for k, va := range ma {
				if vb, ok := mb[k]; ok {
					out[k] = mergeHeads(va, vb, winner, path+"/"+k, conflicts)
				} else {
					out[k] = va
				}
			}
			for k, vb := range mb {
				if _, ok := ma[k]; !ok {
					out[k] = vb
				}
			}
			return out
		}
	}
	if reflect.DeepEqual(a, b) {
		return a
	}
	*conflicts = append(*conflicts, path)
	if winner == 0 {
		return a
	}
	return b
}

// saveOnto merges what the game saves (next) onto the version it replaces
// (base): next's values win, except that typed fields join with base's, so
// a save built from a stale copy never lowers a high score, loses an
// unlock or undoes another device's counts or a later Value.
func saveOnto(base, next any) any {
	kb, kn := typedKind(base), typedKind(next)
	if kn != "" && kb == kn {
		if v, ok := joinTyped(kn, base.(map[string]any), next.(map[string]any)); ok {
			return v
		}
		return next
	}
	mb, bok := base.(map[string]any)
	mn, nok := next.(map[string]any)
	if kn == "" && kb == "" && bok && nok {
		out := make(map[string]any, len(mn))
		for k, vn := range mn {
			if vb, ok := mb[k]; ok {
				out[k] = saveOnto(vb, vn)
			} else {
				out[k] = vn
			}
		}
		return out
	}
	return next
}

// joinTyped joins two values of one typed kind; ok is false when either
// is malformed (then the caller treats them as plain values).
func joinTyped(kind string, a, b map[string]any) (any, bool) {
	switch kind {
	case "$best", "$least":
		if kind == "$least" && (a[kind] == nil || b[kind] == nil) {
			// An unset Least (null) joins to the other side.
			other := a
			if a[kind] == nil {
				other = b
			}
			if _, ok := number(other[kind]); !ok && other[kind] != nil {
				return nil, false
			}
			return other, true
		}
		x, xok := number(a[kind])
		y, yok := number(b[kind])
		if !xok || !yok {
			return nil, false
		}
		if kind == "$best" && x >= y || kind == "$least" && x <= y {
			return a, true
		}
		return b, true
	case "$counter":
		ca, aok := a[kind].(map[string]any)
		cb, bok := b[kind].(map[string]any)
		if !aok || !bok {
			return nil, false
		}
		out := make(map[string]any, len(ca)+len(cb))
		for _, side := range []map[string]any{ca, cb} {
			for dev, v := range side {
				n, ok := number(v)
				if !ok {
					return nil, false
				}
				if cur, seen := out[dev]; !seen || n > mustNumber(cur) {
					out[dev] = json.Number(strconv.FormatInt(n, 10))
				}
			}
		}
		return map[string]any{kind: out}, true
	case "$unlocks":
		ua, aok := a[kind].(map[string]any)
		ub, bok := b[kind].(map[string]any)
		if !aok || !bok {
			return nil, false
		}
		out := make(map[string]any, len(ua)+len(ub))
		for _, side := range []map[string]any{ua, ub} {
			for name, v := range side {
				s, ok := v.(string)
				t, err := time.Parse(time.RFC3339Nano, s)
				if !ok || err != nil {
					return nil, false
				}
				if cur, seen := out[name]; seen {
					if ct, _ := time.Parse(time.RFC3339Nano, cur.(string)); !t.Before(ct) {
						continue
					}
				}
				out[name] = s
			}
		}
		return map[string]any{kind: out}, true
	case "$lww":
		sa, _ := a["at"].(string)
		sb, _ := b["at"].(string)
		ba, _ := a["by"].(string)
		bb, _ := b["by"].(string)
		// Stamps have a fixed-width text form that sorts as they do.
		if sa > sb || sa == sb && ba >= bb {
			return a, true
		}
		return b, true
	}
	return nil, false
}

func number(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func mustNumber(v any) int64 { n, _ := number(v); return n }

// stamp walks v (a pointer to the game's save) and stamps its typed fields
// that need the device or the clock.
func stamp(v any, st stampInfo) {
	rv := reflect.ValueOf(v)
	stampValue(rv, st, 0)
}

func stampValue(rv reflect.Value, st stampInfo, depth int) {
	if depth > 32 || !rv.IsValid() {
		return
	}
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return
		}
		if s, ok := rv.Interface().(stamper); ok {
			s.stamp(st)
			return
		}
		stampValue(rv.Elem(), st, depth+1)
		return
	}
	if rv.CanAddr() {
		if s, ok := rv.Addr().Interface().(stamper); ok {
			s.stamp(st)
			return
		}
	}
	switch rv.Kind() {
	case reflect.Struct:
		for i := 0; i < rv.NumField(); i++ {
			if rv.Type().Field(i).IsExported() {
				stampValue(rv.Field(i), st, depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			stampValue(rv.Index(i), st, depth+1)
		}
	case reflect.Map:
		// Map values are not addressable: a Counter or Value inside a map
		// must be held by pointer (map[string]*saves.Counter).
		for _, k := range rv.MapKeys() {
			if e := rv.MapIndex(k); e.Kind() == reflect.Pointer {
				stampValue(e, st, depth+1)
			}
		}
	case reflect.Interface:
		stampValue(rv.Elem(), st, depth+1)
	}
}

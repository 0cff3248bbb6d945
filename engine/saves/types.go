package saves

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The typed fields below carry their merge rule in their JSON form, an
// object with one "$kind" key, so any copy of the engine or the tool can
// merge two versions of a save without the game's Go types:
//
//	Best      {"$best": 120}                      the higher wins
//	Least     {"$least": 8125}                    the lower wins (fastest times)
//	Counter   {"$counter": {"DEVICE": 5, …}}      per device the higher; the value is the sum
//	Unlocks   {"$unlocks": {"NAME": "RFC 3339"}}  union; per name the earlier time
//	Value[T]  {"$lww": V, "at": "HLC", "by": "DEVICE"}  the later hybrid-logical-clock stamp wins
//
// Object keys starting with '$' are reserved for them.
//
// Loading into a struct that holds changes not saved yet keeps them: a
// Load joins typed fields as a merge does (the better score, each device's
// higher count plus what was added since, the union of unlocks, a Value
// Set since the last Save), so reloading when another device's save
// arrives (SavesChanged) never drops what this device did meanwhile.

// Best is a high score: merging two versions keeps the higher.
type Best struct {
	v   int64
	set bool
}

// Offer records score, keeping the best so far; it reports whether it is
// a new best.
func (b *Best) Offer(score int64) bool {
	if b.set && score <= b.v {
		return false
	}
	b.v, b.set = score, true
	return true
}

// Value is the best score offered (0 before any).
func (b Best) Value() int64 { return b.v }

func (b Best) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]int64{"$best": b.v}) }

func (b *Best) UnmarshalJSON(data []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("saves: Best: %w", err)
	}
	v, ok := m["$best"]
	if !ok {
		return fmt.Errorf("saves: Best: want {\"$best\": N}, got %s", data)
	}
	b.Offer(v) // a Load keeps a better score offered since the last Save
	return nil
}

// Least is a best time or lowest count: merging keeps the lower.
type Least struct {
	v   int64
	set bool
}

// Offer records v, keeping the lowest so far; it reports whether it is a
// new lowest.
func (l *Least) Offer(v int64) bool {
	if l.set && v >= l.v {
		return false
	}
	l.v, l.set = v, true
	return true
}

// Value is the lowest offered; ok is false before any.
func (l Least) Value() (v int64, ok bool) { return l.v, l.set }

func (l Least) MarshalJSON() ([]byte, error) {
	if !l.set {
		return json.Marshal(map[string]any{"$least": nil})
	}
	return json.Marshal(map[string]int64{"$least": l.v})
}

func (l *Least) UnmarshalJSON(data []byte) error {
	var m map[string]*int64
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("saves: Least: %w", err)
	}
	v, ok := m["$least"]
	if !ok {
		return fmt.Errorf("saves: Least: want {\"$least\": N}, got %s", data)
	}
	if v != nil {
		l.Offer(*v) // a Load keeps a lower value offered since the last Save
	}
	return nil
}

// Counter adds up across devices: each device keeps its own count, merging
// keeps each device's higher count, and the value is their sum — so 5
// coins on one device and 3 on another make 8, never 5 or 3.
type Counter struct {
	counts  map[string]int64
	pending int64 // added since the last Save, credited to this device then
}

// Add adds n (which may be negative: spending) to this device's count. It
// is credited to the device when the save is written.
func (c *Counter) Add(n int64) { c.pending += n }

// Value is the total over every device, including what was added since
// the last Save.
func (c Counter) Value() int64 {
	t := c.pending
	for _, v := range c.counts {
		t += v
	}
	return t
}

// Devices returns each device's count (as of the last Save or Load).
func (c Counter) Devices() map[string]int64 { return maps.Clone(c.counts) }

func (c Counter) MarshalJSON() ([]byte, error) {
	counts := c.counts
	if counts == nil {
		counts = map[string]int64{}
	}
	return json.Marshal(map[string]map[string]int64{"$counter": counts})
}

func (c *Counter) UnmarshalJSON(data []byte) error {
	var m map[string]map[string]int64
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("saves: Counter: %w", err)
	}
	counts, ok := m["$counter"]
	if !ok {
		return fmt.Errorf("saves: Counter: want {\"$counter\": {...}}, got %s", data)
	}
	// Per device the higher count, as a merge does; what was added since
	// the last Save stays pending, so a Load never drops it.
	if c.counts == nil {
		c.counts = map[string]int64{}
	}
	for dev, n := range counts {
		c.counts[dev] = max(c.counts[dev], n)
	}
	return nil
}

func (c *Counter) stamp(st stampInfo) {
	if c.pending == 0 {
		return
	}
	if c.counts == nil {
		c.counts = map[string]int64{}
	}
	c.counts[st.device] += c.pending
	c.pending = 0
}

// Unlocks is a set of achievements or unlocks: merging keeps every name
// either side has, each with its earliest unlock time.
type Unlocks struct {
	at map[string]time.Time
}

// Unlock adds name (now), reporting whether it is new.
func (u *Unlocks) Unlock(name string) bool {
	if _, ok := u.at[name]; ok {
		return false
	}
	if u.at == nil {
		u.at = map[string]time.Time{}
	}
	u.at[name] = time.Now().UTC().Truncate(time.Millisecond)
	return true
}

// Has reports whether name is unlocked.
func (u Unlocks) Has(name string) bool { _, ok := u.at[name]; return ok }

// When returns name's unlock time (zero when locked).
func (u Unlocks) When(name string) time.Time { return u.at[name] }

// Names lists the unlocked names, sorted.
func (u Unlocks) Names() []string { return slices.Sorted(maps.Keys(u.at)) }

func (u Unlocks) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(u.at))
	for k, t := range u.at {
		m[k] = t.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(map[string]map[string]string{"$unlocks": m})
}

func (u *Unlocks) UnmarshalJSON(data []byte) error {
	var m map[string]map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("saves: Unlocks: %w", err)
	}
	names, ok := m["$unlocks"]
	if !ok {
		return fmt.Errorf("saves: Unlocks: want {\"$unlocks\": {...}}, got %s", data)
	}
	if u.at == nil {
		u.at = make(map[string]time.Time, len(names))
	}
	for k, s := range names {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("saves: Unlocks: %q: %w", k, err)
		}
		if cur, ok := u.at[k]; !ok || t.Before(cur) {
			u.at[k] = t // union, the earlier time
		}
	}
	return nil
}

// Value is a plain value edited on several devices: merging keeps the one
// written last, by a hybrid logical clock (wall time, kept monotonic and
// ahead of every version seen), not by the devices' wall clocks alone.
type Value[T any] struct {
	v     T
	at    HLC
	by    string
	dirty bool
}

// Set sets the value; it is stamped when the save is written.
func (v *Value[T]) Set(x T) { v.v, v.dirty = x, true }

// Get returns the value.
func (v Value[T]) Get() T { return v.v }

type lwwJSON[T any] struct {
	V  T      `json:"$lww"`
	At HLC    `json:"at"`
	By string `json:"by"`
}

func (v Value[T]) MarshalJSON() ([]byte, error) {
	return json.Marshal(lwwJSON[T]{V: v.v, At: v.at, By: v.by})
}

func (v *Value[T]) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("saves: Value: %w", err)
	}
	if _, ok := raw["$lww"]; !ok {
		return fmt.Errorf("saves: Value: want {\"$lww\": …}, got %s", data)
	}
	var j lwwJSON[T]
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("saves: Value: %w", err)
	}
	if v.dirty {
		return nil // set since the last Save: that write is the later one
	}
	v.v, v.at, v.by = j.V, j.At, j.By
	return nil
}

func (v *Value[T]) stamp(st stampInfo) {
	if !v.dirty {
		return
	}
	v.at, v.by, v.dirty = st.at, st.device, false
}

// stampInfo is what a Save stamps typed fields with.
type stampInfo struct {
	device string
	at     HLC
}

// stamper is implemented by the typed fields that need the writing device
// or clock (Counter, Value).
type stamper interface{ stamp(stampInfo) }

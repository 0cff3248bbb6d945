package saves

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HLC is a hybrid logical clock stamp: wall-clock milliseconds and a
// logical counter that orders stamps within one millisecond and keeps a
// device's clock ahead of every stamp it has seen, so "last writer wins"
// follows causality even when device clocks disagree. Its text form,
// 13-digit milliseconds "." 6-digit counter, sorts as the stamp does.
type HLC struct {
	Wall    int64 // Unix milliseconds
	Logical uint32
}

// Less orders stamps.
func (h HLC) Less(o HLC) bool {
	return h.Wall < o.Wall || h.Wall == o.Wall && h.Logical < o.Logical
}

// IsZero reports an unset stamp.
func (h HLC) IsZero() bool { return h == HLC{} }

// Time is the stamp's wall-clock part.
func (h HLC) Time() time.Time { return time.UnixMilli(h.Wall).UTC() }

func (h HLC) String() string { return fmt.Sprintf("%013d.%06d", h.Wall, h.Logical) }

// ParseHLC reads String's form.
func ParseHLC(s string) (HLC, error) {
	w, l, ok := strings.Cut(s, ".")
	if !ok || len(w) != 13 || len(l) != 6 {
		return HLC{}, fmt.Errorf("saves: clock stamp %q: want 13 digits, '.', 6 digits", s)
	}
	wall, err1 := strconv.ParseInt(w, 10, 64)
	logical, err2 := strconv.ParseUint(l, 10, 32)
	if err1 != nil || err2 != nil {
		return HLC{}, fmt.Errorf("saves: clock stamp %q: not a number", s)
	}
	return HLC{Wall: wall, Logical: uint32(logical)}, nil
}

func (h HLC) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

func (h *HLC) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*h = HLC{}
		return nil
	}
	v, err := ParseHLC(string(b))
	*h = v
	return err
}

// clock issues stamps for one device.
type clock struct {
	last HLC
	now  func() time.Time
}

// next returns a stamp later than every stamp issued or observed.
func (c *clock) next() HLC {
	wall := c.now().UnixMilli()
	if wall > c.last.Wall {
		c.last = HLC{Wall: wall}
	} else {
		c.last.Logical++
	}
	return c.last
}

// observe moves the clock past a stamp seen on another device's version.
func (c *clock) observe(h HLC) {
	if c.last.Less(h) {
		c.last = h
	}
}

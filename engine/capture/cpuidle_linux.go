package capture

import (
	"os"
	"time"
)

// idleMeter reads the machine's idle CPU fraction from /proc/stat at most
// every 250 ms, from one open file into a fixed buffer (no allocation).
// The sequencer owns it.
type idleMeter struct {
	f               *os.File
	buf             [512]byte
	idle, total     uint64
	at              time.Time
	frac            float64
	failed, started bool
}

// sample returns the fraction of CPU time the machine's cores spent idle
// since the previous reading; negative while unknown.
func (m *idleMeter) sample(now time.Time) float64 {
	if m.failed {
		return -1
	}
	if m.started && now.Sub(m.at) < 250*time.Millisecond {
		return m.frac
	}
	if m.f == nil {
		f, err := os.Open("/proc/stat")
		if err != nil {
			m.failed = true
			return -1
		}
		m.f, m.frac = f, -1
	}
	n, _ := m.f.ReadAt(m.buf[:], 0)
	idle, total, ok := parseCPULine(m.buf[:n])
	if !ok {
		m.failed = true
		return -1
	}
	if m.started && total > m.total {
		m.frac = float64(idle-m.idle) / float64(total-m.total)
	}
	m.idle, m.total, m.at, m.started = idle, total, now, true
	return m.frac
}

func (m *idleMeter) close() {
	if m.f != nil {
		m.f.Close()
		m.f = nil
	}
}

// parseCPULine reads the first line of /proc/stat, "cpu user nice system
// idle iowait irq softirq steal ...": idle + iowait, and the sum.
func parseCPULine(b []byte) (idle, total uint64, ok bool) {
	if len(b) < 4 || string(b[:4]) != "cpu " {
		return 0, 0, false
	}
	field := 0
	var v uint64
	in := false
	for _, c := range b[4:] {
		if c >= '0' && c <= '9' {
			v, in = v*10+uint64(c-'0'), true
			continue
		}
		if in {
			if field == 3 || field == 4 {
				idle += v
			}
			if field < 8 {
				total += v
			}
			field++
			v, in = 0, false
		}
		if c == '\n' {
			break
		}
	}
	return idle, total, field >= 4
}

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/skyloop-engine/skyloop/tools/skyloop/internal/recordings"
)

// What delete and prune share: confirmation, the parsing of --older-than
// and --max-size. They open sinks as every command does (openSinks); an
// engine/sync Sink is a recordings.Deleter.

// stdin is where confirmations are read (a variable for tests).
var stdin io.Reader = os.Stdin

// canAsk reports whether a question can be put to the user: stdin is a
// terminal.
func canAsk() bool {
	f, ok := stdin.(*os.File)
	return ok && isTerminal(f)
}

// errNoConfirm refuses to delete without a terminal to ask on: scripts
// must say --yes.
func errNoConfirm(cmd string) error {
	return usageError("%s deletes recordings and asks first, but stdin is not a terminal: pass --yes to delete without asking (or --dry-run to list what would go)", cmd)
}

// confirm asks question on stderr and reads the answer from stdin: yes
// only for "y" or "yes".
func (a *app) confirm(r *bufio.Reader, question string) bool {
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(a.stderr)
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// sizeOf writes a byte count as the prompts and summaries show it (SI
// units, as --max-size takes them: 1.2 MB).
func sizeOf(n int64) string { return humanize.Bytes(uint64(max(n, 0))) }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ageUnit matches the day and week counts of an --older-than value, which
// time.ParseDuration does not know.
var ageUnit = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?)([dw])`)

// parseAge parses --older-than: a Go duration (90m, 36h, 1h30m) with days
// (d) and weeks (w) besides: 30d, 2w, 1w3d.
func parseAge(s string) (time.Duration, error) {
	if strings.ContainsAny(s, "dw") {
		var bad error
		s = ageUnit.ReplaceAllStringFunc(s, func(m string) string {
			parts := ageUnit.FindStringSubmatch(m)
			n, err := strconv.ParseFloat(parts[1], 64)
			if err != nil {
				bad = err
			}
			hours := 24.0
			if parts[2] == "w" {
				hours = 7 * 24
			}
			return strconv.FormatFloat(n*hours, 'f', -1, 64) + "h"
		})
		if bad != nil {
			return 0, bad
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration like 90m, 36h, 30d or 2w")
	}
	if d <= 0 {
		return 0, errors.New("want a duration above zero, like 90m, 36h, 30d or 2w")
	}
	return d, nil
}

// parseSize parses --max-size with go-humanize: 500MB, 2GiB, 1.5G, 0.
func parseSize(s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("want a size like 500MB or 2GiB (%v)", err)
	}
	if n > 1<<62 {
		return 0, errors.New("too large")
	}
	return int64(n), nil
}

// recordingGrace is how recently a session without an end record must have
// been written to for prune to take it as still recording and leave it
// alone. A game writes a segment every few seconds while it records
// (capture.segment_seconds, 2 by default); a sink that was unreachable
// gets them later, from the spool.
const recordingGrace = 5 * time.Minute

// sessionLine describes a session for delete and prune listings.
func sessionLine(a recordings.Age) string {
	end := "not ended"
	if a.Ended {
		end = "ended " + a.Last.Local().Format("2006-01-02 15:04")
	}
	return fmt.Sprintf("%s (started %s, %s, %s)", a.Session.Ref(), a.Start.Local().Format("2006-01-02 15:04"), end, sizeOf(a.Bytes))
}

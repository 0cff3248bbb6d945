package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is a progress bar on stderr when stderr is a terminal, and
// nothing otherwise (logs and tests stay clean).
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(w io.Writer, total int, what string) progress {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) || total <= 1 {
		return progress{}
	}
	return progress{bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p progress) Set(n int) {
	if p.bar != nil {
		p.bar.Set(n)
	}
}

func (p progress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// isTerminal reports whether f is a terminal (not merely a character
// device: /dev/null is one too).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

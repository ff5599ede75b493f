package loadtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Progress draws a one-line progress bar on w: redrawn in place on a terminal, a plain
// line every 5 seconds otherwise.
type Progress struct {
	w                      io.Writer
	label                  string
	total                  int
	tty                    bool
	start                  time.Time
	mu                     sync.Mutex
	done, failed, inFlight int
	stopped                bool
	lastPlain              time.Time
	stop                   chan struct{}
}

// NewProgress starts counting from now.
func NewProgress(w io.Writer, label string, total int) *Progress {
	p := &Progress{w: w, label: label, total: total, start: time.Now(), stop: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// Set records the counts; safe for concurrent use.
func (p *Progress) Set(done, failed, inFlight int) {
	p.mu.Lock()
	p.done, p.failed, p.inFlight = done, failed, inFlight
	p.mu.Unlock()
}

// Run redraws every 200ms until ctx ends or Stop.
func (p *Progress) Run(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.stop:
			return
		case <-t.C:
			p.draw(false)
		}
	}
}

// Stop draws the final state and ends the line; calling it again does nothing.
func (p *Progress) Stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	close(p.stop)
	p.mu.Unlock()
	p.draw(true)
}

func (p *Progress) draw(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped && !final { // a tick that raced Stop must not draw after the final line
		return
	}
	if !p.tty && !final && time.Since(p.lastPlain) < 5*time.Second {
		return
	}
	p.lastPlain = time.Now()
	elapsed := time.Since(p.start)
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = min(width, (p.done+p.failed)*width/p.total)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed.Minutes()
	}
	line := fmt.Sprintf("%s  [%s%s]  %d/%d done  %d failed  %d in flight  %s VMs/min  %.1fs", p.label,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total, p.failed, p.inFlight, commas(int(rate+0.5)), elapsed.Seconds())
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r%s\n", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r%s", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

// commas writes n with thousands separators: 1234567 is "1,234,567".
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// progress draws one status line on stderr for work that lasts over a second, only when
// stderr is a terminal and --quiet is not set.
type progress struct {
	w       io.Writer
	label   string
	start   time.Time
	mu      sync.Mutex
	drawn   bool
	enabled bool
}

// newProgress returns a progress line for this command; its methods do nothing when progress
// is off.
func newProgress(cliContext *ucli.Context, label string) *progress {
	w := streamsOf(cliContext).err
	return &progress{w: w, label: label, start: time.Now(), enabled: !cliContext.Bool("quiet") && isTerminal(w)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// bytes reports done of total bytes.
func (p *progress) bytes(done, total int64) {
	if !p.enabled || time.Since(p.start) < time.Second {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pct := 100.0
	if total > 0 {
		pct = float64(done) * 100 / float64(total)
	}
	rate := float64(done) / time.Since(p.start).Seconds() / (1 << 20)
	fmt.Fprintf(p.w, "\r%s: %5.1f%% of %d MiB, %.0f MiB/s ", p.label, pct, total>>20, rate)
	p.drawn = true
}

// done clears the line if anything was drawn.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// count reports done of total items (kernels).
func (p *progress) count(done, total int) {
	if !p.enabled || time.Since(p.start) < time.Second {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rate := float64(done) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r%s: %d/%d kernels, %.1f/s ", p.label, done, total, rate)
	p.drawn = true
}

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
	return &progress{w: w, label: esc(label), start: time.Now(), enabled: !cliContext.Bool("quiet") && isTerminal(w)}
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
	pct := 100.0
	if total > 0 {
		pct = float64(done) * 100 / float64(total)
	}
	p.draw(func(elapsed float64) string {
		return fmt.Sprintf("%5.1f%% of %d MiB, %.0f MiB/s", pct, total>>20, float64(done)/elapsed/(1<<20))
	})
}

// count reports done of total items (kernels).
func (p *progress) count(done, total int) {
	p.draw(func(elapsed float64) string {
		return fmt.Sprintf("%d/%d kernels, %.1f/s", done, total, float64(done)/elapsed)
	})
}

// draw redraws the line with status(seconds since start), once a second has passed.
func (p *progress) draw(status func(elapsed float64) string) {
	if !p.enabled {
		return
	}
	elapsed := time.Since(p.start)
	if elapsed < time.Second {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%s: %s ", p.label, status(elapsed.Seconds()))
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

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gadgetpack/gadgetpack/btf"
	"github.com/gadgetpack/gadgetpack/internal/atomicfile"
)

// errAborted cancels an output file: its temp file is removed and the path left as it was.
var errAborted = errors.New("btfgen: run failed, output not written")

// fileSink writes one output file through a pipe into atomicfile.Write: the file appears, whole,
// only when the sink is committed.
type fileSink struct {
	path string
	pw   *io.PipeWriter
	done chan error
}

func newFileSink(path string) *fileSink {
	pr, pw := io.Pipe()
	s := &fileSink{path: path, pw: pw, done: make(chan error, 1)}
	go func() {
		err := atomicfile.Write(path, pr, 0o644)
		if err != nil {
			pr.CloseWithError(err) // a write into a failed file fails, instead of blocking
		}
		s.done <- err
	}()
	return s
}

// finish commits the file (ends its stream, so that it is renamed into place) or aborts it.
func (s *fileSink) finish(commit bool) error {
	if commit {
		_ = s.pw.Close()
	} else {
		_ = s.pw.CloseWithError(errAborted)
	}
	if err := <-s.done; commit && err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	return nil
}

// fileSinks are the output files of one run, and the folder made for them, if any.
type fileSinks struct {
	files   []*fileSink
	madeDir string // removed when the run writes nothing (if still empty)
}

// openSinks starts one sink per path; dir, when not empty, is the --per-object folder, made
// if missing.
func openSinks(paths []string, dir string) (*fileSinks, error) {
	ss := &fileSinks{}
	if dir != "" {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			ss.madeDir = dir
		}
	}
	for _, p := range paths {
		ss.files = append(ss.files, newFileSink(p))
	}
	return ss, nil
}

func (ss *fileSinks) writers() []io.Writer {
	ws := make([]io.Writer, len(ss.files))
	for i, f := range ss.files {
		ws[i] = f.pw
	}
	return ws
}

// finish commits or aborts every file and returns the first error.
func (ss *fileSinks) finish(commit bool) error {
	var first error
	for _, f := range ss.files {
		if err := f.finish(commit); err != nil && first == nil {
			first = err
		}
	}
	if (!commit || first != nil) && ss.madeDir != "" {
		_ = os.Remove(ss.madeDir)
	}
	return first
}

// btfgenReport is the summary of a run, printed as text or --json.
type btfgenReport struct {
	Archive  string         `json:"archive"`
	Selected int            `json:"kernelsSelected"`
	Kernels  int            `json:"kernelsRead"`
	Pairs    int            `json:"pairsWritten"`
	Skipped  []btfgenSkip   `json:"skipped"`
	Outputs  []btfgenOutput `json:"outputs"`
}

// btfgenSkip is one kernel x object pair not written.
type btfgenSkip struct {
	Kernel string `json:"kernel"`
	Object string `json:"object"`
	Output string `json:"output"`
	Reason string `json:"reason"`
}

// btfgenOutput is what one archive holds.
type btfgenOutput struct {
	Path    string   `json:"path"`
	Objects []string `json:"objects"`
	Kernels int      `json:"kernels"`
	Entries int      `json:"entries"`
	Bytes   int64    `json:"bytes"`
}

func newBTFGenReport(archive string, objects []string, perObject bool, paths []string, res *btf.Result) *btfgenReport {
	r := &btfgenReport{Archive: archive, Selected: res.Selected, Kernels: res.Kernels, Pairs: res.Pairs, Skipped: []btfgenSkip{}}
	for i, o := range res.Outputs {
		out := btfgenOutput{Path: "-", Objects: objects, Kernels: o.Kernels, Entries: o.Entries, Bytes: o.Bytes}
		if i < len(paths) {
			out.Path = paths[i]
		}
		if perObject {
			out.Objects = objects[i : i+1]
		}
		r.Outputs = append(r.Outputs, out)
	}
	for _, s := range res.Skipped {
		reason := s.Err.Error()
		var ke *btf.KernelError
		if errors.As(s.Err, &ke) {
			reason = ke.Err.Error()
		}
		object := s.Object
		if object == "" {
			object = "all objects"
		}
		r.Skipped = append(r.Skipped, btfgenSkip{Kernel: s.Kernel, Object: object, Output: r.Outputs[s.Output].Path, Reason: reason})
	}
	return r
}

func (r *btfgenReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "%d kernels read, %d pairs written, %d pairs skipped\n", r.Kernels, r.Pairs, len(r.Skipped))
	for _, o := range r.Outputs {
		fmt.Fprintf(w, "%s: %d kernels, %d entries, %d bytes\n", esc(o.Path), o.Kernels, o.Entries, o.Bytes)
	}
}

func (r *btfgenReport) writeJSON(w io.Writer) error { return writeJSON(w, r) }

package hashio

import (
	"hash"
	"io"
	"sync"
)

// AsideMin is the size from which WriteHashed hashes on another goroutine: below it the
// goroutine's start costs more than the overlap saves.
const AsideMin = 256 << 10

// WriteHashed writes p to w and adds p to h. A p of AsideMin bytes or more is hashed on another
// goroutine while it is written; both are done when WriteHashed returns, so p may be reused.
// When the write fails, h may have taken more than the n bytes written: the stream is dead then.
func WriteHashed(w io.Writer, h hash.Hash, p []byte) (int, error) {
	if len(p) < AsideMin {
		n, err := w.Write(p)
		h.Write(p[:n])
		return n, err
	}
	var wg sync.WaitGroup
	wg.Go(func() { h.Write(p) })
	n, err := w.Write(p)
	wg.Wait()
	return n, err
}

// Package ticker calls a progress function a few times a second while work runs, for the
// progress reports of verify, export and import.
package ticker

import (
	"sync"
	"time"
)

// Interval is how often Start calls its function: about five times a second.
const Interval = 200 * time.Millisecond

// Start calls fn every Interval from another goroutine until the returned stop is called;
// stop waits for a call in flight, calls fn once more (so the last report is the final
// figure) and returns. stop may be called more than once; only the first call does anything.
// A nil fn gives a stop that does nothing.
func Start(fn func()) (stop func()) {
	if fn == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(Interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fn()
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			wg.Wait()
			fn()
		})
	}
}

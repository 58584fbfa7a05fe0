package ticker

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	var calls atomic.Int64
	stop := Start(func() { calls.Add(1) })
	time.Sleep(3*Interval + Interval/2)
	stop()
	n := calls.Load()
	if n < 2 { // three ticks and the last call, on a busy machine at least one tick
		t.Fatalf("%d calls in 3.5 intervals and stop, want at least 2", n)
	}
	stop()
	time.Sleep(2 * Interval)
	if calls.Load() != n {
		t.Fatal("fn called after stop")
	}
	Start(nil)() // a nil fn is fine
}

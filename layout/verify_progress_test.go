package layout

import (
	"context"
	"sync"
	"testing"
)

func TestVerifyProgress(t *testing.T) {
	s := newStore(t)
	im := buildImage(t, s, "progress")
	if err := s.Tag(context.Background(), im.index, "example.com/progress:latest"); err != nil {
		t.Fatal(err)
	}
	dir := s.Path()
	var mu sync.Mutex
	var calls int
	var last, lastTotal int64
	rep, err := Verify(context.Background(), dir, VerifyOptions{Progress: func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		calls++
		last, lastTotal = done, total
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != rep.Bytes || lastTotal != rep.Bytes {
		t.Fatalf("progress: %d calls, last %d/%d, want %d/%d", calls, last, lastTotal, rep.Bytes, rep.Bytes)
	}
}

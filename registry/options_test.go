package registry

import (
	"testing"
	"time"
)

// TestOptionsDefaults: the zero value works and each field's documented default applies.
func TestOptionsDefaults(t *testing.T) {
	var zero Options
	if zero.concurrency() != DefaultConcurrency || zero.retries() != 4 || zero.timeout() != 30*time.Second {
		t.Fatalf("defaults: concurrency %d, retries %d, timeout %v", zero.concurrency(), zero.retries(), zero.timeout())
	}
	set := Options{Concurrency: 9, Retries: 2, Timeout: time.Second}
	if set.concurrency() != 9 || set.retries() != 2 || set.timeout() != time.Second {
		t.Fatalf("set: %d %d %v", set.concurrency(), set.retries(), set.timeout())
	}
	none := Options{Retries: -1, Concurrency: -3, Timeout: -time.Second}
	if none.retries() != 0 || none.concurrency() != DefaultConcurrency || none.timeout() != 30*time.Second {
		t.Fatalf("negative: %d %d %v", none.retries(), none.concurrency(), none.timeout())
	}
	isolateAuth(t)
	if _, err := newClient("r.example:5000", zero); err != nil {
		t.Fatalf("the zero Options: %v", err)
	}
}

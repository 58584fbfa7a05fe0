package testtool

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestRequireFound(t *testing.T) {
	// sh is on every machine that runs these tests.
	path := Require(t, "sh")
	if !filepath.IsAbs(path) {
		t.Fatalf("Require(sh) = %q, want an absolute path", path)
	}
}

func TestRequireMissing(t *testing.T) {
	for _, tc := range []struct {
		name, ci  string
		wantFatal bool
	}{
		{"laptop skips", "", false},
		{"CI fails", "true", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Require(rec, "gadgetpack-no-such-tool")
			}()
			<-done
			if rec.fatal != tc.wantFatal || rec.skip == tc.wantFatal {
				t.Fatalf("fatal=%v skip=%v, want fatal=%v", rec.fatal, rec.skip, tc.wantFatal)
			}
		})
	}
}

// recorder notes Skip and Fatal instead of ending the test; both stop the calling goroutine
// as the real ones do.
type recorder struct {
	testing.TB
	fatal, skip bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(string, ...any) {
	r.fatal = true
	runtime.Goexit()
}

func (r *recorder) Skipf(string, ...any) {
	r.skip = true
	runtime.Goexit()
}

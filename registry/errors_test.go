package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/layout"
)

// TestErrorsSayWhatTheRegistryAnswered: each way a registry can refuse gives an error naming
// the operation, the ref and the registry, saying what it answered, wrapping its sentinel,
// within a few seconds; a pull that fails so leaves the layout as it was (absent or not).
func TestErrorsSayWhatTheRegistryAnswered(t *testing.T) {
	plainReg := registrytest.Start(t, registrytest.Options{})
	authReg := registrytest.Start(t, registrytest.Options{Auth: true})
	tlsReg := registrytest.Start(t, registrytest.Options{TLS: true})
	down := registrytest.ClosedAddr(t)

	src := newLayout(t)
	writeImage(t, src, "example.com/e:v1", "errors", 1000)
	// Something to pull from each registry.
	for _, r := range []*registrytest.Registry{plainReg, authReg, tlsReg} {
		if _, err := Push(t.Context(), src, "example.com/e:v1", r.Ref("e:v1"), plain(r)); err != nil {
			t.Fatalf("setup push to %s: %v", r.Host, err)
		}
	}

	for _, tc := range []struct {
		name string
		ref  string
		opts Options
		want error
		says []string
	}{
		{"wrong password", authReg.Ref("e:v1"), Options{PlainHTTP: true, Username: authReg.Username, Password: "wrong"}, ErrUnauthorized, []string{authReg.Host, "401 Unauthorized"}},
		{"no credentials", authReg.Ref("e:v1"), Options{PlainHTTP: true, AuthFile: emptyAuthFile(t)}, ErrUnauthorized, []string{authReg.Host, "401 Unauthorized", "no credentials"}},
		{"registry down", down + "/e:v1", Options{PlainHTTP: true}, ErrUnreachable, []string{down, "connection refused"}},
		{"missing ref", plainReg.Ref("e:nope"), Options{PlainHTTP: true}, ErrNotFound, []string{plainReg.Host, "404 Not Found", "e:nope"}},
		{"missing repository", plainReg.Ref("nothing/here:v1"), Options{PlainHTTP: true}, ErrNotFound, []string{plainReg.Host, "404"}},
		{"self-signed without CA", tlsReg.Ref("e:v1"), Options{}, ErrTLS, []string{tlsReg.Host, "TLS", "certificate"}},
		{"plain HTTP to TLS", tlsReg.Ref("e:v1"), Options{PlainHTTP: true}, ErrHTTPMismatch, []string{tlsReg.Host, "400 Bad Request", "HTTPS"}},
		{"HTTPS to plain HTTP", plainReg.Ref("e:v1"), Options{}, ErrHTTPMismatch, []string{plainReg.Host, "plain HTTP"}},
		{"bad CA file", tlsReg.Ref("e:v1"), Options{CAFile: filepath.Join("testdata", "no-such-ca.pem")}, os.ErrNotExist, []string{"no-such-ca.pem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []string{"pull", "push"} {
				dir := filepath.Join(t.TempDir(), "layout")
				start := time.Now()
				var err error
				if op == "pull" {
					_, err = Pull(t.Context(), dir, tc.ref, "", tc.opts)
				} else {
					_, err = Push(t.Context(), src, "example.com/e:v1", strings.Replace(tc.ref, ":nope", ":v2", 1), tc.opts)
					if tc.want == ErrNotFound {
						// A push creates what a pull misses.
						if err != nil {
							t.Fatalf("push to a new tag: %v", err)
						}
						continue
					}
				}
				if elapsed := time.Since(start); elapsed > 10*time.Second {
					t.Errorf("%s took %v", op, elapsed)
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: got %v, want an error wrapping %v", op, err, tc.want)
				}
				t.Logf("%s: %v", op, err)
				for _, s := range append([]string{op + " "}, tc.says...) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("%s: error %q does not say %q", op, err, s)
					}
				}
				if _, serr := os.Stat(dir); op == "pull" && !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("a failed pull created the layout %s", dir)
				}
			}
		})
	}

	t.Run("existing layout unchanged", func(t *testing.T) {
		dst := newLayout(t)
		writeImage(t, dst, "example.com/kept:v1", "kept", 1000)
		before := indexBytes(t, dst)
		for _, ref := range []string{authReg.Ref("e:v1"), down + "/e:v1", plainReg.Ref("e:nope")} {
			if _, err := Pull(t.Context(), dst.Path(), ref, "", Options{PlainHTTP: true}); err == nil {
				t.Fatalf("pull %s succeeded", ref)
			}
		}
		if after := indexBytes(t, dst); string(after) != string(before) {
			t.Fatalf("index.json changed:\n%s\n%s", before, after)
		}
		if _, err := os.Stat(filepath.Join(dst.Path(), layout.TempDir)); err == nil {
			entries, _ := os.ReadDir(filepath.Join(dst.Path(), layout.TempDir))
			if len(entries) > 0 {
				t.Fatalf("temp files left: %v", entries)
			}
		}
	})
}

// emptyAuthFile writes an auth file with no credentials.
func emptyAuthFile(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "auth.json")
	if err := os.WriteFile(p, []byte(`{"auths":{}}`), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestClassify: the sentinel of errors that need no registry to happen.
func TestClassify(t *testing.T) {
	c := &client{host: "r.example:5000"}
	err := c.describe("pull r.example:5000/x:v1", errors.New("something odd"))
	if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "r.example:5000") {
		t.Fatalf("unknown error: %v", err)
	}
	again := c.describe("pull r.example:5000/x:v1 again", err)
	if !errors.Is(again, ErrRegistry) || strings.Count(again.Error(), "registry r.example:5000") != 1 {
		t.Fatalf("a described error is described again: %v", again)
	}
	disk := c.describe("pull r.example:5000/x:v1", &os.PathError{Op: "write", Path: "/l/.gadgetpack-tmp/x", Err: syscall.ENOSPC})
	if errors.Is(disk, ErrRegistry) || strings.Contains(disk.Error(), "registry r.example") || !errors.Is(disk, syscall.ENOSPC) {
		t.Fatalf("a local disk error is blamed on the registry: %v", disk)
	}
}

package registry

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
	"github.com/gadgetpack/gadgetpack/layout"
)

// faultProxy sits between the client and a registry and breaks what fault says it should.
type faultProxy struct {
	*httptest.Server
	host string
}

// newFaultProxy forwards to r; fault, called for every request, may answer it itself (true)
// instead of forwarding it.
func newFaultProxy(t *testing.T, r *registrytest.Registry, fault func(w http.ResponseWriter, req *http.Request) bool, modify func(*http.Response) error) *faultProxy {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: r.Host}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = modify
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if fault != nil && fault(w, req) {
			return
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return &faultProxy{Server: srv, host: strings.TrimPrefix(srv.URL, "http://")}
}

// resetConn hijacks the connection of w and closes it with a TCP reset.
func resetConn(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// TestRetriesTransient: a registry that answers 503 to the first upload of every blob and
// resets the connection of the first read of every blob still gets a complete push, and gives
// a complete pull, thanks to the retries.
func TestRetriesTransient(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	var (
		mu                  sync.Mutex
		failedPut, resetGet = map[string]bool{}, map[string]bool{}
		faults              atomic.Int64
	)
	proxy := newFaultProxy(t, r, func(w http.ResponseWriter, req *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/"):
			d := req.URL.Query().Get("digest")
			if !failedPut[d] {
				failedPut[d] = true
				faults.Add(1)
				_, _ = io.Copy(io.Discard, req.Body)
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return true
			}
		case req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:"):
			if !resetGet[req.URL.Path] {
				resetGet[req.URL.Path] = true
				faults.Add(1)
				resetConn(w)
				return true
			}
		}
		return false
	}, nil)

	src := newLayout(t)
	im := writeImage(t, src, "example.com/flaky:v1", "flaky", 50_000)
	opts := Options{PlainHTTP: true}
	if _, err := Push(t.Context(), src, "example.com/flaky:v1", proxy.host+"/flaky:v1", opts); err != nil {
		t.Fatalf("push through a flaky registry: %v", err)
	}
	back := filepath.Join(t.TempDir(), "back")
	if _, err := Pull(t.Context(), back, proxy.host+"/flaky:v1", "example.com/flaky:v1", opts); err != nil {
		t.Fatalf("pull through a flaky registry: %v", err)
	}
	if faults.Load() < int64(len(im.layers)) {
		t.Fatalf("only %d faults injected", faults.Load())
	}
	got, err := layout.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	if refsOf(t, got)["example.com/flaky:v1"] != im.index.Digest {
		t.Fatal("the pulled image is not named")
	}
	mustVerify(t, got)
}

// TestRetriesBounded: a registry that always answers 503 fails the push after the retries, in
// bounded time, with an error saying so.
func TestRetriesBounded(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	var calls atomic.Int64
	proxy := newFaultProxy(t, r, func(w http.ResponseWriter, req *http.Request) bool {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, req.Body)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return true
	}, nil)
	src := newLayout(t)
	writeImage(t, src, "example.com/down:v1", "down", 1000)
	start := time.Now()
	_, err := Push(t.Context(), src, "example.com/down:v1", proxy.host+"/down:v1", Options{PlainHTTP: true, Retries: 2})
	if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("got %v, want ErrRegistry saying 503", err)
	}
	// 3 tries of each request, times 3 tries of a blob's upload.
	if n := calls.Load(); n < 3 || n > 20 {
		t.Fatalf("%d requests", n)
	}
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Fatalf("took %v", elapsed)
	}
}

// TestPullCorruptBlob: a registry that serves other bytes for a layer fails the pull with a
// digest mismatch naming it; no ref moves and the bad bytes are not kept.
func TestPullCorruptBlob(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	src := newLayout(t)
	im := writeImage(t, src, "example.com/bad:v1", "bad", 20_000)
	if _, err := Push(t.Context(), src, "example.com/bad:v1", r.Ref("bad:v1"), Options{PlainHTTP: true}); err != nil {
		t.Fatal(err)
	}
	victim := im.layers[1].Digest
	proxy := newFaultProxy(t, r, nil, func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+string(victim)) && resp.StatusCode == http.StatusOK {
			resp.Body = flipper{resp.Body}
		}
		return nil
	})
	dst := newLayout(t)
	writeImage(t, dst, "example.com/bad:v1", "older", 1000)
	before := indexBytes(t, dst)
	_, err := Pull(t.Context(), dst.Path(), proxy.host+"/bad:v1", "example.com/bad:v1", Options{PlainHTTP: true})
	if !errors.Is(err, layout.ErrDigestMismatch) || !strings.Contains(err.Error(), string(victim)) {
		t.Fatalf("got %v, want ErrDigestMismatch naming %s", err, victim)
	}
	if string(indexBytes(t, dst)) != string(before) {
		t.Fatal("a failed pull changed index.json")
	}
	if ok, _ := dst.Exists(t.Context(), im.layers[1]); ok {
		t.Fatal("the corrupt blob was kept")
	}
}

// flipper flips the first byte it reads.
type flipper struct{ io.ReadCloser }

func (f flipper) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if n > 0 {
		p[0] ^= 0xff
	}
	return n, err
}

func TestRetryable(t *testing.T) {
	dial := &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name   string
		status int
		err    error
		want   bool
	}{
		{"503", 503, nil, true},
		{"500", 500, nil, true},
		{"429", 429, nil, true},
		{"408", 408, nil, true},
		{"404", 404, nil, false},
		{"401", 401, nil, false},
		{"200", 200, nil, false},
		{"reset", 0, &net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{"unexpected EOF", 0, io.ErrUnexpectedEOF, true},
		{"refused", 0, dial, false},
		{"dial timeout", 0, &net.OpError{Op: "dial", Err: timeoutErr{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			if tc.err == nil {
				resp = &http.Response{StatusCode: tc.status}
			}
			if got, _ := retryable(resp, tc.err); got != tc.want {
				t.Fatalf("retryable = %v, want %v", got, tc.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

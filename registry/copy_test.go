package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// flakyStore fails its first failures pushes with err, reading part of the content first.
type flakyStore struct {
	*memory.Store
	failures int
	err      error
	pushes   int
}

func (s *flakyStore) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	s.pushes++
	if s.pushes <= s.failures {
		_, _ = io.CopyN(io.Discard, r, 3)
		return s.err
	}
	return s.Store.Push(ctx, desc, r)
}

// TestRetryPusher: a transient failure is retried with the content read afresh from the
// source, a lasting one as many times as allowed, and a refusal not at all.
func TestRetryPusher(t *testing.T) {
	data := []byte("some blob content")
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	src := memory.New()
	if err := src.Push(t.Context(), desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	busy := &errcode.ErrorResponse{Method: http.MethodPut, StatusCode: http.StatusServiceUnavailable}
	denied := &errcode.ErrorResponse{Method: http.MethodPut, StatusCode: http.StatusForbidden}
	for _, tc := range []struct {
		name       string
		failures   int
		err        error
		retries    int
		wantPushes int
		wantErr    error
	}{
		{"one 503", 1, busy, 4, 2, nil},
		{"503 beyond the retries", 10, busy, 2, 3, busy},
		{"reset twice", 2, io.ErrUnexpectedEOF, 4, 3, nil},
		{"403 is final", 1, denied, 4, 1, denied},
		{"no retries", 1, busy, 0, 1, busy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := &flakyStore{Store: memory.New(), failures: tc.failures, err: tc.err}
			p := retryPusher{Storage: dst, src: src, retries: tc.retries}
			rc, err := src.Fetch(t.Context(), desc)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Push(t.Context(), desc, rc)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Push = %v, want %v", err, tc.wantErr)
			}
			if dst.pushes != tc.wantPushes {
				t.Fatalf("%d pushes, want %d", dst.pushes, tc.wantPushes)
			}
			if tc.wantErr == nil {
				if ok, _ := dst.Exists(t.Context(), desc); !ok {
					t.Fatal("the blob is not at the destination after the retries")
				}
			}
		})
	}
}

// TestHolders: the repositories known to hold a blob, the asking one left out.
func TestHolders(t *testing.T) {
	c := newCopier(Options{})
	d := ocispec.Descriptor{Digest: digest.FromString("x")}
	c.hold(d, "a")
	c.hold(d, "b")
	c.hold(d, "a")
	c.hold(d, "")
	if got := c.holdersOf(d, "a"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("holders for a: %v", got)
	}
	if got := c.holdersOf(d, "c"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("holders for c: %v", got)
	}
}

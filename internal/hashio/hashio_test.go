package hashio

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.after {
		return f.after, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriteHashed(t *testing.T) {
	for _, size := range []int{0, 1, AsideMin - 1, AsideMin, 3*AsideMin + 5} {
		p := bytes.Repeat([]byte{'x', 'y', 'z'}, size/3+1)[:size]
		var out bytes.Buffer
		h := sha256.New()
		n, err := WriteHashed(&out, h, p)
		if err != nil || n != size || !bytes.Equal(out.Bytes(), p) {
			t.Fatalf("size %d: n %d, err %v", size, n, err)
		}
		want := sha256.Sum256(p)
		if !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("size %d: wrong hash", size)
		}
	}
	// A failed write says how much it wrote, and the error.
	for _, size := range []int{10, 2 * AsideMin} {
		n, err := WriteHashed(&failWriter{after: 5}, sha256.New(), make([]byte, size))
		if n != 5 || err == nil {
			t.Fatalf("size %d: n %d, err %v", size, n, err)
		}
	}
}

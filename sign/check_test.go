package sign

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/testfs"
	"github.com/gadgetpack/gadgetpack/layout"
)

// igStoreGraph opens ig's real signed store from shared/interop.
func igStoreGraph(tb testing.TB) (*layout.Store, Graph) {
	tb.Helper()
	s, err := layout.Open(testfs.SharedPath(tb, "interop", "ig-store"))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := LayoutGraph(context.Background(), s)
	if err != nil {
		tb.Fatal(err)
	}
	return s, g
}

// igKey loads one of ig's test keys from shared/interop/keys.
func igKey(tb testing.TB, name string) PublicKey {
	tb.Helper()
	k, err := LoadPublicKey(filepath.Join(testfs.SharedPath(tb, "interop", "keys"), name))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// TestCheckIGStore checks ig's real signatures: the legacy, OCI 1.1 and bundle signed images
// verify with ig-test.pub, none with ig-test-other.pub, the unsigned one has no signature, and
// the Notation-signed ones are unsupported.
func TestCheckIGStore(t *testing.T) {
	ctx := context.Background()
	s, g := igStoreGraph(t)
	good, other := igKey(t, "ig-test.pub"), igKey(t, "ig-test-other.pub")
	tests := []struct {
		ref     string
		format  Format
		good    string // verdict with ig-test.pub
		other   string // verdict with ig-test-other.pub
		nokey   string // verdict without keys
		summary string // Summary with ig-test.pub
	}{
		{"ttl.sh/signed_with_cosign_legacy:latest", FormatLegacy, VerdictOK, VerdictInvalid, VerdictUnchecked, "signed (legacy, key " + good.ShortID() + ")"},
		{"ttl.sh/signed_with_cosign_oci11:latest", FormatOCI11, VerdictOK, VerdictInvalid, VerdictUnchecked, "signed (oci11, key " + good.ShortID() + ")"},
		{"ttl.sh/signed_with_cosign_bundle:latest", FormatBundle, VerdictOK, VerdictInvalid, VerdictUnchecked, "signed (bundle, key " + good.ShortID() + ")"},
		{"ttl.sh/signed_with_notation_config_media_type_signature:latest", FormatNotation, VerdictUnsupported, VerdictUnsupported, VerdictUnsupported, "signature present (notation), not checked: unsupported format"},
		{"ttl.sh/signed_with_notation_config_media_type_empty:latest", FormatNotation, VerdictUnsupported, VerdictUnsupported, VerdictUnsupported, "signature present (notation), not checked: unsupported format"},
		{"ghcr.io/inspektor-gadget/gadget/unsigned:francis-signature-unit-tests", "", "", "", "", "unsigned"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			desc, err := s.Resolve(ctx, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			for _, run := range []struct {
				keys []PublicKey
				want string
			}{{[]PublicKey{good}, tt.good}, {[]PublicKey{other}, tt.other}, {nil, tt.nokey}, {[]PublicKey{other, good}, tt.good}} {
				res, err := NewChecker(g, run.keys).Check(ctx, desc.Digest)
				if err != nil {
					t.Fatal(err)
				}
				b := res.Best()
				if run.want == "" {
					if b != nil {
						t.Errorf("keys %s: found %+v, want no signature", keyList(run.keys), *b)
					}
					continue
				}
				if b == nil {
					t.Fatalf("keys %s: no signature found, want %s %s", keyList(run.keys), tt.format, run.want)
				}
				if b.Format != tt.format || b.Verdict != run.want {
					t.Errorf("keys %s: %s %s (%s), want %s %s", keyList(run.keys), b.Format, b.Verdict, b.Reason, tt.format, run.want)
				}
				if res.Signed != (run.want == VerdictOK) {
					t.Errorf("keys %s: Signed %v", keyList(run.keys), res.Signed)
				}
			}
			res, _ := NewChecker(g, []PublicKey{good}).Check(ctx, desc.Digest)
			if got := res.Summary(); got != tt.summary {
				t.Errorf("Summary %q, want %q", got, tt.summary)
			}
		})
	}
}

// TestIsSignatureTag tells signature tags from image refs.
func TestIsSignatureTag(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for ref, want := range map[string]bool{
		"sha256-" + hex + ".sig":             true,
		"sha256-" + hex:                      true,
		"ghcr.io/x/y:sha256-" + hex + ".sig": true,
		"sha256-" + hex[:10]:                 false,
		"ttl.sh/signed:latest":               false,
		"trace_exec":                         false,
	} {
		if got := IsSignatureTag(ref); got != want {
			t.Errorf("IsSignatureTag(%q) = %v", ref, got)
		}
	}
}

// Package sign makes and checks cosign signatures of images in an OCI image layout, offline, as
// Inspektor Gadget's ig checks them (pkg/signature in its repository): key-based, no
// transparency log, over the digest a ref resolves to, in the three formats ig reads: the
// legacy `sha256-<hex>.sig` tag, the OCI 1.1 referrer (or its `sha256-<hex>` referrers-tag
// index), and the sigstore bundle v0.3 referrer (a DSSE envelope over an in-toto statement).
// Keys are PKIX PEM public keys (ECDSA P-256, RSA, Ed25519) and cosign's encrypted private keys
// (or PKCS#8 and SEC1 PEM).
//
// It reads and writes layouts only through package layout. Formats:
// https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md and
// https://github.com/sigstore/protobuf-specs (bundle v0.3).
package sign

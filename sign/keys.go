package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"syscall"
)

// PublicKey is a verification key: a PKIX public key and its ID.
type PublicKey struct {
	// Key is an *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey.
	Key crypto.PublicKey
	// ID is the hex sha256 of the key's PKIX DER encoding: the same for the same key in any
	// file, shown shortened in reports.
	ID string
	// Source names where the key came from (its file), for messages.
	Source string
}

// ShortID returns the first 8 hex digits of the key's ID, as reports show it.
func (k PublicKey) ShortID() string {
	if len(k.ID) < 8 {
		return k.ID
	}
	return k.ID[:8]
}

// LoadPublicKey reads a PEM public key file. It returns ErrBadKey or ErrUnsupportedKey naming
// the file.
func LoadPublicKey(path string) (PublicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return PublicKey{}, err
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key %s: %w", path, err)
	}
	k.Source = path
	return k, nil
}

// maxKeyFile caps a key file: a PEM key is a few KiB at most.
const maxKeyFile = 64 << 10

// readKeyFile reads a small key file, refusing anything but a regular file under maxKeyFile.
// It opens without blocking and checks the opened file, so a FIFO there fails at once.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("key %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxKeyFile {
		return nil, fmt.Errorf("key %s: not a regular file of at most %d bytes: %w", path, maxKeyFile, ErrBadKey)
	}
	return io.ReadAll(io.LimitReader(f, maxKeyFile))
}

// ParsePublicKey parses the first PEM block of data as a PKIX public key ("PUBLIC KEY").
func ParsePublicKey(data []byte) (PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return PublicKey{}, fmt.Errorf("no PEM block: %w", ErrBadKey)
	}
	if block.Type != "PUBLIC KEY" {
		return PublicKey{}, fmt.Errorf("PEM block %q, want \"PUBLIC KEY\": %w", block.Type, ErrBadKey)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%v: %w", err, ErrBadKey)
	}
	return newPublicKey(pub)
}

// newPublicKey checks pub is of a supported kind and computes its ID.
func newPublicKey(pub crypto.PublicKey) (PublicKey, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return PublicKey{}, fmt.Errorf("ECDSA curve %s: %w", k.Curve.Params().Name, ErrUnsupportedKey)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return PublicKey{}, fmt.Errorf("RSA key of %d bits (under 2048): %w", k.N.BitLen(), ErrUnsupportedKey)
		}
	case ed25519.PublicKey:
	default:
		return PublicKey{}, fmt.Errorf("%T: %w", pub, ErrUnsupportedKey)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%v: %w", err, ErrBadKey)
	}
	sum := sha256.Sum256(der)
	return PublicKey{Key: pub, ID: hex.EncodeToString(sum[:])}, nil
}

// MarshalPublicKey returns pub as a PKIX PEM block, as cosign writes NAME.pub.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrBadKey)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// verifyMessage checks sig over msg with key as sigstore's LoadVerifier(key, crypto.SHA256)
// does, which is what ig uses: ECDSA ASN.1 and RSA PKCS#1 v1.5 over the SHA-256 of msg, Ed25519
// over msg itself. It returns ErrBadSignature when the signature does not verify.
func verifyMessage(key PublicKey, sig, msg []byte) error {
	digest := sha256.Sum256(msg)
	ok := false
	switch k := key.Key.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest[:], sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, msg, sig)
	}
	if !ok {
		return fmt.Errorf("signature does not verify with key %s: %w", key.ShortID(), ErrBadSignature)
	}
	return nil
}

// hexDecode decodes a key ID.
func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }

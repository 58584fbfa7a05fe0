package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// PEM block types of private keys.
const (
	// PEMSigstoreEncrypted is what cosign generate-key-pair writes since v2.
	PEMSigstoreEncrypted = "ENCRYPTED SIGSTORE PRIVATE KEY"
	// PEMCosignEncrypted is what older cosign wrote; the same encryption.
	PEMCosignEncrypted = "ENCRYPTED COSIGN PRIVATE KEY"
	pemPKCS8           = "PRIVATE KEY"
	pemSEC1            = "EC PRIVATE KEY"
	pemPKCS1           = "RSA PRIVATE KEY"
)

// Signer is a private key and its public half.
type Signer struct {
	signer crypto.Signer
	// Public is the public half, with its ID.
	Public PublicKey
}

// PasswordFunc returns the password of an encrypted key. It is called only for encrypted keys.
type PasswordFunc func() ([]byte, error)

// LoadPrivateKey reads a private key file: cosign's encrypted PEM (either block type), PKCS#8,
// SEC1 or PKCS#1 PEM. password is called for an encrypted key. It returns ErrBadKey,
// ErrUnsupportedKey or ErrBadPassword naming the file.
func LoadPrivateKey(path string, password PasswordFunc) (*Signer, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParsePrivateKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	s.Public.Source = path
	return s, nil
}

// ParsePrivateKey parses the first PEM block of data as LoadPrivateKey does.
func ParsePrivateKey(data []byte, password PasswordFunc) (*Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block: %w", ErrBadKey)
	}
	der := block.Bytes
	switch block.Type {
	case PEMSigstoreEncrypted, PEMCosignEncrypted:
		if password == nil {
			return nil, fmt.Errorf("encrypted key and no password: %w", ErrBadPassword)
		}
		pass, err := password()
		if err != nil {
			return nil, err
		}
		der, err = encrypted.Decrypt(block.Bytes, pass)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", block.Type, ErrBadPassword)
		}
		return signerFromPKCS8(der)
	case pemPKCS8:
		return signerFromPKCS8(der)
	case pemSEC1:
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", block.Type, err, ErrBadKey)
		}
		return newSigner(k)
	case pemPKCS1:
		k, err := x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", block.Type, err, ErrBadKey)
		}
		return newSigner(k)
	}
	return nil, fmt.Errorf("PEM block %q is not a private key: %w", block.Type, ErrBadKey)
}

// signerFromPKCS8 parses a PKCS#8 DER private key.
func signerFromPKCS8(der []byte) (*Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8: %v: %w", err, ErrBadKey)
	}
	cs, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T: %w", k, ErrUnsupportedKey)
	}
	return newSigner(cs)
}

// newSigner checks the key's kind and derives its public half.
func newSigner(k crypto.Signer) (*Signer, error) {
	pub, err := newPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{signer: k, Public: pub}, nil
}

// Sign signs msg as verifyMessage checks it: ECDSA (ASN.1) and RSA PKCS#1 v1.5 over the SHA-256
// of msg, Ed25519 over msg.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	if _, ok := s.signer.(ed25519.PrivateKey); ok {
		return s.signer.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	digest := sha256.Sum256(msg)
	return s.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
}

// GenerateKeyPair makes an ECDSA P-256 key pair, as cosign generate-key-pair does: the private
// key as PKCS#8 encrypted with password (scrypt and NaCl secretbox, cosign's format, PEM
// "ENCRYPTED SIGSTORE PRIVATE KEY") and the public key as PKIX PEM.
func GenerateKeyPair(password []byte) (privatePEM, publicPEM []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, nil, err
	}
	publicPEM, err = MarshalPublicKey(k.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMSigstoreEncrypted, Bytes: enc}), publicPEM, nil
}

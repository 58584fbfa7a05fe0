package sign

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func fixedPassword(p string) PasswordFunc { return func() ([]byte, error) { return []byte(p), nil } }

// TestPrivateKeyForms signs with every private key form and checks with its public key.
func TestPrivateKeyForms(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, _ := x509.MarshalECPrivateKey(ec)
	encPriv, encPub, err := GenerateKeyPair([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	encBlock, _ := pem.Decode(encPriv)
	tests := []struct {
		name string
		pem  []byte
		pass PasswordFunc
		want error
	}{
		{"cosign encrypted (sigstore)", encPriv, fixedPassword("s3cret"), nil},
		{"cosign encrypted (old block)", pemOf(PEMCosignEncrypted, encBlock.Bytes), fixedPassword("s3cret"), nil},
		{"wrong password", encPriv, fixedPassword("wrong"), ErrBadPassword},
		{"no password func", encPriv, nil, ErrBadPassword},
		{"pkcs8 ecdsa", pemOf("PRIVATE KEY", pkcs8(ec)), nil, nil},
		{"pkcs8 rsa", pemOf("PRIVATE KEY", pkcs8(rk)), nil, nil},
		{"pkcs8 ed25519", pemOf("PRIVATE KEY", pkcs8(ed)), nil, nil},
		{"sec1", pemOf("EC PRIVATE KEY", sec1), nil, nil},
		{"pkcs1 rsa", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), nil, nil},
		{"not pem", []byte("hello"), nil, ErrBadKey},
		{"public key as private", encPub, nil, ErrBadKey},
		{"garbage der", pemOf("PRIVATE KEY", []byte{1, 2, 3}), nil, ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParsePrivateKey(tt.pem, tt.pass)
			if !errors.Is(err, tt.want) || (tt.want != nil) != (err != nil) {
				t.Fatalf("ParsePrivateKey: %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			msg := []byte("payload")
			sig, err := s.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			pubPEM, err := MarshalPublicKey(s.Public.Key)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKey(pubPEM)
			if err != nil {
				t.Fatal(err)
			}
			if pub.ID != s.Public.ID {
				t.Errorf("ID %s, public half %s", pub.ID, s.Public.ID)
			}
			if err := verifyMessage(pub, sig, msg); err != nil {
				t.Errorf("own signature: %v", err)
			}
			if err := verifyMessage(pub, sig, []byte("payloaD")); !errors.Is(err, ErrBadSignature) {
				t.Errorf("signature over other bytes: %v", err)
			}
		})
	}
}

// TestPublicKeyRefusals covers what a public key file may not be.
func TestPublicKeyRefusals(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224DER, _ := x509.MarshalPKIXPublicKey(&p224.PublicKey)
	for name, tt := range map[string]struct {
		data []byte
		want error
	}{
		"empty":       {nil, ErrBadKey},
		"wrong block": {pemOf("CERTIFICATE", []byte{1}), ErrBadKey},
		"garbage":     {pemOf("PUBLIC KEY", []byte{1, 2}), ErrBadKey},
		"rsa 1024":    {pemOf("PUBLIC KEY", smallDER), ErrUnsupportedKey},
		"ecdsa p-224": {pemOf("PUBLIC KEY", p224DER), ErrUnsupportedKey},
	} {
		if _, err := ParsePublicKey(tt.data); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
	}
	dir := t.TempDir()
	if _, err := LoadPublicKey(dir); !errors.Is(err, ErrBadKey) {
		t.Errorf("a folder as key: %v", err)
	}
	if _, err := LoadPublicKey(filepath.Join(dir, "absent.pub")); err == nil {
		t.Errorf("absent key loaded")
	}
	fifo := filepath.Join(dir, "fifo.pub")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPublicKey(fifo); !errors.Is(err, ErrBadKey) { // a blocking open would hang here
		t.Errorf("a FIFO as key: %v", err)
	}
	big := filepath.Join(dir, "big.pub")
	if err := os.WriteFile(big, make([]byte, maxKeyFile+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPublicKey(big); !errors.Is(err, ErrBadKey) {
		t.Errorf("huge key file: %v", err)
	}
}

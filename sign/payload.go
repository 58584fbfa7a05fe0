package sign

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// simpleSigning is cosign's simple-signing payload, in cosign's field order (its bytes are
// what is signed).
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// simpleSigningPayload returns the payload cosign signs for the image dg of repository repo.
func simpleSigningPayload(repo string, dg digest.Digest) ([]byte, error) {
	var p simpleSigning
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = dg.String()
	p.Critical.Type = cosignSignatureType
	return json.Marshal(p)
}

// checkSimpleSigning checks a verified simple-signing payload names the image dg, as ig does:
// its critical.type and its docker-manifest-digest. It returns ErrBadSignature otherwise.
func checkSimpleSigning(payload []byte, dg digest.Digest) error {
	var p simpleSigning
	if err := decodeStrict(payload, &p); err != nil {
		return fmt.Errorf("payload: %v: %w", err, ErrBadSignature)
	}
	if p.Critical.Type != cosignSignatureType {
		return fmt.Errorf("payload critical.type %q, want %q: %w", p.Critical.Type, cosignSignatureType, ErrBadSignature)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != dg.String() {
		return fmt.Errorf("payload names digest %s, not %s: %w", got, dg, ErrBadSignature)
	}
	return nil
}

// statement is the part of an in-toto statement that is checked.
type statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate json.RawMessage `json:"predicate"`
}

// checkStatement checks that a verified in-toto statement's first subject has the digest dg,
// as ig does. It returns ErrBadSignature otherwise.
func checkStatement(payload []byte, dg digest.Digest) error {
	var st statement
	if err := decodeStrict(payload, &st); err != nil {
		return fmt.Errorf("in-toto statement: %v: %w", err, ErrBadSignature)
	}
	if len(st.Subject) == 0 {
		return fmt.Errorf("in-toto statement has no subject: %w", ErrBadSignature)
	}
	if st.Subject[0].Digest[dg.Algorithm().String()] != dg.Encoded() {
		return fmt.Errorf("in-toto statement's subject is not %s: %w", dg, ErrBadSignature)
	}
	return nil
}

// decodeStrict decodes one JSON value into v and refuses trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON document")
	}
	return nil
}

// pae is DSSE's pre-authentication encoding of a payload: what a DSSE signature signs.
func pae(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "DSSEv1 %d %s %d ", len(payloadType), payloadType, len(payload))
	b.Write(payload)
	return b.Bytes()
}

package sign

// Media types, artifact types and annotations of the signature formats ig reads.
const (
	// MediaTypeSimpleSigning is the layer of a cosign signature manifest: the payload.
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// ArtifactTypeCosign is the artifactType (or config media type) of an OCI 1.1 cosign
	// signature manifest.
	ArtifactTypeCosign = "application/vnd.dev.cosign.artifact.sig.v1+json"
	// MediaTypeBundle is the artifactType and layer media type of a sigstore bundle v0.3.
	MediaTypeBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// ArtifactTypeNotation is the artifactType of a Notation signature (reported, not checked).
	ArtifactTypeNotation = "application/vnd.cncf.notary.signature"
	// AnnotationSignature holds the base64 signature over the payload on the layer.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// cosignSignatureType is the payload's critical.type.
	cosignSignatureType = "cosign container image signature"
	// payloadTypeInToto is the DSSE payload type of cosign's bundle.
	payloadTypeInToto = "application/vnd.in-toto+json"
	// predicateTypeCosignSign is the in-toto predicate type cosign's bundle uses.
	predicateTypeCosignSign = "https://sigstore.dev/cosign/sign/v1"
)

// Format names a signature format, as reports show it.
type Format string

// The formats, in the order ig tries them.
const (
	FormatLegacy   Format = "legacy"
	FormatBundle   Format = "bundle"
	FormatOCI11    Format = "oci11"
	FormatNotation Format = "notation"
)

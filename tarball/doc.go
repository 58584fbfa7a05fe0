// Package tarball carries an OCI image layout as one tar stream and back: Export writes the tar
// that ig image export writes and ig image import reads (reproducible, optionally gzip or zstd,
// optionally split into parts); Import reads one back into a layout in one pass, hashing every
// blob while it is staged and refusing hostile input; Verify checks a tarball without
// extracting it, with the same checks and report as layout.Verify. Both check a tarball's
// files against the checksum file export writes beside them (FILE.sha256) when it is there
// (OpenInput): index.json's refs are covered by no digest of their own.
//
// It knows nothing of gadgets: gadget rules come in as functions, as in layout.VerifyOptions.
// The tar holds the files of an image layout,
// https://github.com/opencontainers/image-spec/blob/main/image-layout.md: oci-layout, index.json
// and blobs/<alg>/<encoded>.
package tarball

// Package registry moves images between an OCI image layout (package layout) and an OCI
// distribution registry: push one ref or mirror every ref of a layout under a prefix, and pull
// one ref with its signatures. Graphs move through oras-go (oras.ExtendedCopyGraph), with the
// layout as oras-go's storage, so that OCI 1.1 referrers travel with their subject (through the
// referrers API or, on registries without it, the referrers tag schema), and so do cosign's
// digest-tag signatures (sha256-<hex>.sig, sha256-<hex>).
//
// It knows nothing of the CLI; the protocol is
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md.
package registry

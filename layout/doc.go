// Package layout owns one on-disk OCI image layout: blobs streamed in, hashed and made durable;
// index.json and its refs changed under ig's lock protocol; verified reads; walking the graph;
// verify; gc.
//
// It knows nothing of gadgets: gadget rules come in as plain functions (see VerifyOptions).
// The format is https://github.com/opencontainers/image-spec/blob/main/image-layout.md.
package layout

// Package layout owns one on-disk OCI image layout: blobs streamed in, hashed and made durable;
// index.json and its refs changed under ig's lock protocol; verified reads; walking the graph;
// verify; gc.
//
// It knows nothing of gadgets: gadget rules come in as plain functions (see VerifyOptions).
// The format is https://github.com/opencontainers/image-spec/blob/main/image-layout.md.
//
// Concurrency. A Store is a path: any number of goroutines and processes, gadgetpack or ig,
// may use one layout at once. Blob writers need no lock: each streams into its own temp file
// in .gadgetpack-tmp/ (holding a flock on it), fsyncs, and publishes it under its digest without
// ever replacing an existing blob. index.json changes only in one read-modify-write under an
// exclusive flock on index.json.lock, the protocol of ig's local store, and is replaced
// atomically (internal/atomicfile); reads of index.json take a shared flock where the media
// allows one. Tag checks under that lock that the whole graph it names is present, and ApplyGC
// marks again under it, so a gc never leaves a ref to a missing blob. Verify and Open write
// nothing and take no lock, so they work on read-only media.
//
// Files besides the format's: index.json.lock (ig's), .gadgetpack-tmp/ (writers' temp files,
// removed by gc once their writer is dead) and, after a crash, .index.json.tmp-* in the root.
//
// Hostile trees. Every file of a layout is lstat'ed and opened with O_NOFOLLOW|O_NONBLOCK,
// then fstat'ed: a FIFO, socket, device or symlink is refused by name (ErrNotRegular) and
// never blocks. blobs/, blobs/<alg>/ and .gadgetpack-tmp/ must be real folders (the root
// itself may be a symlink): Open and Init refuse a symlink there (ErrNotLayout), Verify
// reports it, and writers create, rename and remove only in folders they hold open, reached
// one name at a time without following a symlink, so nothing is written outside the layout.
package layout

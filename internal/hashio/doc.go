// Package hashio writes bytes and hashes them at once, on two CPUs: WriteHashed hashes a large
// chunk on another goroutine while the current one writes it, so that a SHA-256 and the write
// syscalls of a stream overlap instead of taking turns. Export uses it for its output and
// layout for the blobs it stores.
package hashio

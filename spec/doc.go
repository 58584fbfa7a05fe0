// Package spec owns the gadget artifact: media types, annotation keys, metadata parsing, the
// checks of one ELF, wasm or btfgen blob, the rules a gadget manifest and index must follow, and
// short-name expansion of references as ig does it.
//
// It knows nothing of files, directories, layouts or the command line: blobs come in as
// readers and through a FetchFunc; the only tar it reads is the one inside a btfgen layer. The
// format is described in https://inspektor-gadget.io/docs/latest/reference/oci and in the
// project's SPEC.md. All functions are safe for concurrent use.
package spec

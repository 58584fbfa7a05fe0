// Package spec owns the gadget artifact: media types, annotation keys, metadata parsing, the
// checks of one ELF, wasm or btfgen blob, the rules a gadget manifest and index must follow, and
// short-name expansion of references as ig does it.
//
// It knows nothing of files, directories, tar or the command line. The format is described in
// https://inspektor-gadget.io/docs/latest/reference/oci and in the project's SPEC.md.
package spec

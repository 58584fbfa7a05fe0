// Package build assembles a gadget artifact from its input files into a layout: it checks every
// input with package spec before anything is written, streams the blobs into the layout, writes
// the per-architecture manifests and the index, and tags the result.
//
// A failed build leaves the layout's refs as they were.
package build

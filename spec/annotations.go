package spec

import (
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Annotation keys a gadget artifact carries (OCI pre-defined keys, SPEC.md "Annotations").
const (
	AnnotationTitle         = ocispec.AnnotationTitle         // metadata name
	AnnotationDescription   = ocispec.AnnotationDescription   // metadata description
	AnnotationURL           = ocispec.AnnotationURL           // metadata homepageURL
	AnnotationDocumentation = ocispec.AnnotationDocumentation // metadata documentationURL
	AnnotationSource        = ocispec.AnnotationSource        // metadata sourceURL
	AnnotationCreated       = ocispec.AnnotationCreated       // RFC 3339, UTC
	AnnotationRefName       = ocispec.AnnotationRefName       // full reference in index.json
	// AnnotationBuilderVersion is the ig version a gadget was built for (ig image build stamps
	// it on the index, the manifests and the config; ig run warns when it is absent).
	AnnotationBuilderVersion = "io.inspektor-gadget.builder.version"
)

// Annotations returns the annotations of a gadget artifact, the same map for the manifest, the
// config descriptor, the index entries and the index. Later sources win over earlier ones:
//
//  1. with metadata (m != nil): title, description, url, documentation and source from the
//     metadata fields name, description, homepageURL, documentationURL and sourceURL; empty
//     values are kept as empty strings, as ig writes them (see interop/ig-store);
//  2. the metadata's own annotations map;
//  3. created: created in RFC 3339, UTC, whole seconds (ig sets it after the metadata
//     annotations, so the metadata cannot override it);
//  4. extra (the user's --annotation flags).
//
// With m == nil (no metadata, config is the empty descriptor) only created and extra are set,
// as ig does. The result is a new map; the caller may change it. Marshalled with
// encoding/json, its keys come out sorted.
func Annotations(m *Metadata, created time.Time, extra map[string]string) map[string]string {
	out := make(map[string]string, 6+len(extra))
	if m != nil {
		out[AnnotationTitle] = m.Name
		out[AnnotationDescription] = m.Description
		out[AnnotationURL] = m.HomepageURL
		out[AnnotationDocumentation] = m.DocumentationURL
		out[AnnotationSource] = m.SourceURL
		for k, v := range m.Annotations {
			out[k] = v
		}
	}
	out[AnnotationCreated] = created.UTC().Format(time.RFC3339)
	for k, v := range extra {
		out[k] = v
	}
	return out
}

package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxMetadataSize is the largest metadata (config blob) ParseMetadata accepts: 1 MiB. Real
// gadget.yaml files are a few KiB.
const MaxMetadataSize = 1 << 20

// Metadata is what gadgetpack reads from a gadget's metadata (gadget.yaml, the config blob).
// The blob itself is stored byte for byte; Metadata is never marshalled back.
type Metadata struct {
	Name             string // name
	Description      string // description
	HomepageURL      string // homepageURL
	DocumentationURL string // documentationURL
	SourceURL        string // sourceURL
	// Annotations is the metadata's annotations map (nil if absent).
	Annotations map[string]string
	// EBPFParams are the names of the eBPF variables the metadata describes as parameters:
	// the keys of params.ebpf (current form) and of ebpfParams (the older form), sorted,
	// without duplicates; nil if there are none.
	EBPFParams []string
}

// rawMetadata is the part of both metadata forms gadgetpack reads. Current form (ig's
// pkg/metadata/v1 GadgetMetadata): name, description, homepageURL, documentationURL,
// sourceURL, annotations, datasources, params (operator -> variable -> ParamDesc),
// gadgetParams. Older form (ig commit 7d12644, pkg/gadgets/run/types GadgetMetadata): name,
// description, tracers, snapshotters, structs, ebpfParams (variable -> ParamDesc inline).
// Fields not listed here are accepted and ignored, as ig's decoder does.
type rawMetadata struct {
	Name             string                         `yaml:"name"`
	Description      string                         `yaml:"description"`
	HomepageURL      string                         `yaml:"homepageURL"`
	DocumentationURL string                         `yaml:"documentationURL"`
	SourceURL        string                         `yaml:"sourceURL"`
	Annotations      map[string]string              `yaml:"annotations"`
	DataSources      map[string]*rawDataSource      `yaml:"datasources"`
	Params           map[string]map[string]rawParam `yaml:"params"`
	GadgetParams     map[string]rawParam            `yaml:"gadgetParams"`
	EBPFParams       map[string]rawParam            `yaml:"ebpfParams"`
}

// rawDataSource mirrors ig's metadatav1.DataSource, so that a type mismatch ig's decoder
// refuses is refused here too.
type rawDataSource struct {
	Annotations map[string]string `yaml:"annotations"`
	Fields      map[string]struct {
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"fields"`
}

// rawParam holds the scalar fields of ig's params.ParamDesc.
type rawParam struct {
	Key          string `yaml:"key"`
	Alias        string `yaml:"alias"`
	Title        string `yaml:"title"`
	DefaultValue string `yaml:"defaultValue"`
	Description  string `yaml:"description"`
	TypeHint     string `yaml:"typeHint"`
}

// ParseMetadata parses gadget metadata in its current form or the older one (see
// rawMetadata) from one YAML document; like ig, it reads the first document and ignores
// fields it does not know. It returns ErrBadMetadata for empty input, YAML that does not parse,
// a top level that is not a mapping, or a known field of the wrong type, and ErrTooLarge (with
// ErrBadMetadata) for more than MaxMetadataSize bytes.
func ParseMetadata(data []byte) (*Metadata, error) {
	if len(data) > MaxMetadataSize {
		return nil, fmt.Errorf("metadata: %d bytes, over %d: %w: %w", len(data), MaxMetadataSize, ErrBadMetadata, ErrTooLarge)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("metadata: empty document: %w", ErrBadMetadata)
		}
		return nil, fmt.Errorf("metadata: %s: %w", yamlMessage(err), ErrBadMetadata)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		kind := "nothing"
		if len(doc.Content) == 1 {
			kind = nodeKind(doc.Content[0])
		}
		return nil, fmt.Errorf("metadata: line %d: top level is %s, want a mapping: %w", doc.Line, kind, ErrBadMetadata)
	}
	var raw rawMetadata
	if err := doc.Content[0].Decode(&raw); err != nil {
		return nil, fmt.Errorf("metadata: %s: %w", yamlMessage(err), ErrBadMetadata)
	}
	m := &Metadata{
		Name:             raw.Name,
		Description:      raw.Description,
		HomepageURL:      raw.HomepageURL,
		DocumentationURL: raw.DocumentationURL,
		SourceURL:        raw.SourceURL,
		Annotations:      raw.Annotations,
	}
	for name := range raw.Params["ebpf"] {
		m.EBPFParams = append(m.EBPFParams, name)
	}
	for name := range raw.EBPFParams {
		m.EBPFParams = append(m.EBPFParams, name)
	}
	slices.Sort(m.EBPFParams)
	m.EBPFParams = slices.Compact(m.EBPFParams)
	return m, nil
}

// yamlMessage returns a yaml error's text without the package's "yaml: " prefix, on one line.
func yamlMessage(err error) string {
	return strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: ")), " ")
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "not a mapping"
}

package strictjson

// Kind says which document Check reads, and so which rules hold beyond the syntax, duplicate
// keys, BOM and UTF-8 ones that hold for every kind.
type Kind uint8

const (
	// Plain is any JSON document (an image config, a signature payload): no field rules.
	Plain Kind = iota
	// Document is an OCI image manifest or image index, index.json included: its known fields
	// and those of its descriptors and platforms are spelled exactly and never null, and so are
	// annotation values and the elements of manifests, layers and string lists.
	Document
	// LayoutFile is the oci-layout file: imageLayoutVersion spelled exactly and never null.
	LayoutFile
)

// role is what a value is in the document of a Kind, so what rules hold inside it.
type role uint8

const (
	roleOther    role = iota // unknown to OCI: syntax and duplicate keys only
	roleDoc                  // a manifest or an index
	roleDesc                 // a descriptor
	roleDescList             // manifests, layers: an array of descriptors
	rolePlatform             // a descriptor's platform
	roleMap                  // annotations: any keys, string values
	roleStrList              // urls, os.features, features: an array of strings
	roleLayout               // oci-layout
)

// fields maps the known fields of an object of a role, as encoding/json's struct tags in
// image-spec spell them, to the role of their value. A role without fields has no known field.
var fields = [...]map[string]role{
	roleDoc: {
		"schemaVersion": roleOther,
		"mediaType":     roleOther,
		"artifactType":  roleOther,
		"config":        roleDesc,
		"layers":        roleDescList,
		"manifests":     roleDescList,
		"subject":       roleDesc,
		"annotations":   roleMap,
	},
	roleDesc: {
		"mediaType":    roleOther,
		"digest":       roleOther,
		"size":         roleOther,
		"urls":         roleStrList,
		"annotations":  roleMap,
		"data":         roleOther,
		"platform":     rolePlatform,
		"artifactType": roleOther,
	},
	rolePlatform: {
		"architecture": roleOther,
		"os":           roleOther,
		"os.version":   roleOther,
		"os.features":  roleStrList,
		"variant":      roleOther,
		"features":     roleStrList,
	},
	roleLayout: {
		"imageLayoutVersion": roleOther,
	},
	roleOther:    nil,
	roleDescList: nil,
	roleMap:      nil,
	roleStrList:  nil,
}

// folded maps encoding/json's fold of each known field of a role to its spelling.
var folded = func() [len(fields)]map[string]string {
	var out [len(fields)]map[string]string
	for r, m := range fields {
		if m == nil {
			continue
		}
		out[r] = map[string]string{}
		for name := range m {
			out[r][string(foldName([]byte(name)))] = name
		}
	}
	return out
}()

// maxFieldLen bounds the keys worth folding: longer ones fold onto no known field.
const maxFieldLen = 4 * len("imageLayoutVersion")

// topRole is the role of the document of kind k.
func topRole(k Kind) role {
	switch k {
	case Document:
		return roleDoc
	case LayoutFile:
		return roleLayout
	}
	return roleOther
}

// child returns the role of the value of key in an object of role r, and whether that value
// may be null.
func (r role) child(key []byte) (role, bool) {
	switch r {
	case roleMap:
		return roleOther, false
	case roleOther:
		return roleOther, true
	}
	if c, ok := fields[r][string(key)]; ok {
		return c, false
	}
	return roleOther, true
}

// elem returns the role of an element of an array of role r, and whether it may be null.
func (r role) elem() (role, bool) {
	switch r {
	case roleDescList:
		return roleDesc, false
	case roleStrList:
		return roleOther, false
	}
	return roleOther, true
}

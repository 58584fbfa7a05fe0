package layout

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// roleKind is the role a descriptor plays in its parent document.
type roleKind uint8

const (
	roleLabel    roleKind = iota // a root, named by its label
	roleConfig                   // config
	roleLayer                    // layers[i]
	roleManifest                 // manifests[i]
	roleSubject                  // subject
	roleEntry                    // index.json[i](ref name), a root
)

// render names the role of the i-th descriptor of kind k: "config", "layers[2]".
func (k roleKind) render(i int) string {
	switch k {
	case roleConfig:
		return "config"
	case roleLayer:
		return "layers[" + strconv.Itoa(i) + "]"
	case roleManifest:
		return "manifests[" + strconv.Itoa(i) + "]"
	case roleSubject:
		return "subject"
	}
	return ""
}

// locationEnds is the number of steps at each end of a location that String shows; the steps
// between them are counted, not shown.
const locationEnds = 4

// Location is how a walk reached a descriptor: the chain of roles and digests from the root,
// e.g. "index.json[0](ref x) > manifests[1](sha256:0123456789ab) > layers[0](sha256:ba98...)".
// It is kept as a pointer to its last step, which points at its parent, so that a walk holds
// memory linear in the size of the graph and renders a location (String) only for a finding or
// an error. The zero Location is the root of a walk without a label; it renders as "".
type Location struct {
	s *locStep
}

// locStep is one step of a Location.
type locStep struct {
	parent *locStep
	kind   roleKind
	i      int
	dg     digest.Digest
	label  string // roleLabel only
	depth  int    // steps from the root (the root is 0)
}

// labelLocation returns the root Location named label, such as "index.json[3](ref x)".
func labelLocation(label string) Location {
	return Location{&locStep{kind: roleLabel, label: label}}
}

// entryLocation returns the root Location of index.json's entry i, of digest dg and ref name
// (or none): "index.json[3](ref x)", "index.json[4](sha256:0123456789ab)".
func entryLocation(i int, dg digest.Digest, name string) Location {
	return Location{&locStep{kind: roleEntry, i: i, dg: dg, label: name}}
}

// child returns the Location of k, a successor of the document reached at l.
func (l Location) child(k child) Location {
	return l.step(k.kind, k.i, k.desc.Digest)
}

// step returns the Location of the i-th descriptor of kind k, of digest dg, under l.
func (l Location) step(k roleKind, i int, dg digest.Digest) Location {
	return Location{&locStep{parent: l.s, kind: k, i: i, dg: dg, depth: l.Depth() + 1}}
}

// Depth is the number of steps from the root to l: 0 for a root, 1 for what a root points at.
func (l Location) Depth() int {
	if l.s == nil {
		return 0
	}
	return l.s.depth
}

// String renders l as "role(digest) > role(digest)", the root first (a root without a label
// shows nothing). A location of more than 2*4+1 steps shows the first 4 and the last 4 with the
// count of the others between them, so that a path through thousands of nested indexes is one
// short line.
func (l Location) String() string {
	var steps []*locStep
	for s := l.s; s != nil; s = s.parent {
		steps = append(steps, s)
	}
	slices.Reverse(steps)
	if len(steps) > 0 && steps[0].kind == roleLabel && steps[0].label == "" {
		steps = steps[1:]
	}
	n := len(steps)
	parts := make([]string, 0, min(n, 2*locationEnds+1))
	for i, s := range steps {
		if n > 2*locationEnds+1 && i >= locationEnds && i < n-locationEnds {
			if i == locationEnds {
				parts = append(parts, fmt.Sprintf("... %d more levels ...", n-2*locationEnds))
			}
			continue
		}
		parts = append(parts, s.render())
	}
	return strings.Join(parts, " > ")
}

// render names one step: its label, or role(short digest).
func (s *locStep) render() string {
	switch {
	case s.kind == roleLabel:
		return s.label
	case s.kind == roleEntry && s.label != "":
		return IndexFile + "[" + strconv.Itoa(s.i) + "](ref " + s.label + ")"
	case s.kind == roleEntry:
		return IndexFile + "[" + strconv.Itoa(s.i) + "](" + short(s.dg) + ")"
	}
	return s.kind.render(s.i) + "(" + short(s.dg) + ")"
}

// wrap prefixes err with l when l is not empty.
func (l Location) wrap(err error) error {
	if w := l.String(); w != "" {
		return fmt.Errorf("%s: %w", w, err)
	}
	return err
}

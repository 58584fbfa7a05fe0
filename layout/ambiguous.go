package layout

import (
	"errors"

	"github.com/gadgetpack/gadgetpack/internal/strictjson"
)

// RuleAmbiguousJSON is the rule of Verify's findings for a JSON document (oci-layout,
// index.json, a manifest, an index or a JSON config) that parses but that another parser could
// read as another document: a duplicate key at any depth, a key that differs only in case from
// a known field, a null where OCI wants a value, a byte order mark, invalid UTF-8 or a lone
// surrogate (strictjson.Check). Open, Index, the edits, Walk, Copy and the stream reads refuse
// the same documents with ErrBadIndex, ErrBadManifest or ErrNotLayout.
const RuleAmbiguousJSON = "oci/ambiguous-json"

// jsonRule returns the rule of a finding for a document that does not decode: RuleAmbiguousJSON
// when strictjson refused it as ambiguous, else rule.
func jsonRule(err error, rule string) string {
	if errors.Is(err, strictjson.ErrAmbiguous) {
		return RuleAmbiguousJSON
	}
	return rule
}

package spec

import (
	"errors"
	"strings"
	"testing"
)

var sentinels = map[string]error{
	"ErrUnknownArch":    ErrUnknownArch,
	"ErrNotELF":         ErrNotELF,
	"ErrNotBPF":         ErrNotBPF,
	"ErrBadELF":         ErrBadELF,
	"ErrNoBTF":          ErrNoBTF,
	"ErrBadWasm":        ErrBadWasm,
	"ErrBadBTFGen":      ErrBadBTFGen,
	"ErrBadMetadata":    ErrBadMetadata,
	"ErrBadParam":       ErrBadParam,
	"ErrBadRef":         ErrBadRef,
	"ErrBadDescriptor":  ErrBadDescriptor,
	"ErrTooLarge":       ErrTooLarge,
	"ErrUnknownRuleSet": ErrUnknownRuleSet,
}

func TestSentinels(t *testing.T) {
	seen := map[string]string{}
	for name, err := range sentinels {
		t.Run(name, func(t *testing.T) {
			msg := err.Error()
			if msg == "" || msg[:1] != strings.ToLower(msg[:1]) || strings.HasSuffix(msg, ".") ||
				strings.Contains(msg, "failed to") || strings.Contains(msg, ":") {
				t.Errorf("%s = %q: want a short message, lowercase first, no punctuation", name, msg)
			}
			if other, ok := seen[msg]; ok {
				t.Errorf("%s and %s share the message %q", name, other, msg)
			}
			seen[msg] = name
			for otherName, other := range sentinels {
				if otherName != name && errors.Is(err, other) {
					t.Errorf("%s matches %s", name, otherName)
				}
			}
		})
	}
}

package strictjson

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// BenchmarkCheck measures Check on what verify reads: ig's own index.json, a gadget manifest,
// and an index.json of 20,000 refs (about 4 MB); "unmarshal" is encoding/json decoding the same
// bytes into map[string]any, the bound Check must stay within twice of.
func BenchmarkCheck(b *testing.B) {
	inputs := map[string][]byte{}
	for _, name := range []string{"ig-index.json", "ig-gadget-manifest.json"} {
		data, err := os.ReadFile("testdata/document/" + name)
		if err != nil {
			b.Fatal(err)
		}
		inputs[name] = data
	}
	inputs["index-20000-refs"] = wideIndex(20000)
	for _, name := range []string{"ig-index.json", "ig-gadget-manifest.json", "index-20000-refs"} {
		data := inputs[name]
		b.Run(name+"/check", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Check(data, Document); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/unmarshal", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v map[string]any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// wideIndex returns an index.json of n named entries, as an export of n gadgets has.
func wideIndex(n int) []byte {
	var s strings.Builder
	s.WriteString(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`)
	for i := range n {
		if i > 0 {
			s.WriteByte(',')
		}
		fmt.Fprintf(&s, `{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%064x","size":%d,`+
			`"annotations":{"org.opencontainers.image.ref.name":"ghcr.io/example/gadget-%d:v0.%d.0","org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}`, i, 1000+i, i, i%50)
	}
	s.WriteString(`]}`)
	return []byte(s.String())
}

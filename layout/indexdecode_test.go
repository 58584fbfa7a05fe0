package layout

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gadgetpack/gadgetpack/internal/strictjson"
)

// slowIndex decodes index.json with encoding/json alone, as parseIndexJSON did before
// fastIndex: the reference fastIndex must agree with.
func slowIndex(data []byte) (h indexHeader, entries []indexEntry, present bool, err error) {
	var f indexFile
	if err := json.Unmarshal(data, &f); err != nil {
		return h, nil, false, err
	}
	if f.Manifests == nil {
		return f.indexHeader, nil, false, nil
	}
	entries = []indexEntry{}
	for _, raw := range *f.Manifests {
		var d ocispec.Descriptor
		if !isJSONObject(raw) {
			return h, nil, false, errors.New("an entry is not an object")
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return h, nil, false, err
		}
		entries = append(entries, indexEntry{raw: raw, desc: d})
	}
	return f.indexHeader, entries, true, nil
}

// indexSeeds are index.json contents of the shapes fastIndex reads and of those it leaves to
// encoding/json.
var indexSeeds = []string{
	`{"schemaVersion":2,"manifests":[]}`,
	`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b","size":12,"annotations":{"org.opencontainers.image.ref.name":"a:b","x":"\u00e9\n\ud83d\ude00"},"platform":{"architecture":"arm64","os":"linux","os.version":"1","os.features":["a"],"variant":"v8","features":["x"]},"urls":["http://x/"],"data":"aGVsbG8=","artifactType":"a/b"}],"annotations":{},"subject":{"mediaType":"a/b","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b","size":1},"artifactType":"x/y","unknown":{"a":[1,2,{"b":null}],"c":"\""}}`,
	` { "schemaVersion" : 2 , "manifests" : [ { "digest" : "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b" , "size" : -0 , "urls" : [ ] , "data" : "" } ] } `,
	`{"schemaVersion":2,"manifests":[{"size":1.0}]}`,
	`{"schemaVersion":2,"manifests":[{"size":1e2}]}`,
	`{"schemaVersion":2,"manifests":[{"size":99999999999999999999}]}`,
	`{"schemaVersion":2,"manifests":[{"size":"1"}]}`,
	`{"schemaVersion":2,"manifests":[{"data":[1,2]}]}`,
	`{"schemaVersion":2,"manifests":[{"data":"!!"}]}`,
	`{"schemaVersion":2,"manifests":[{"ſize":1}]}`,
	`{"schemaVersion":2,"manifests":[{"Size":1}]}`,
	`{"schemaVersion":2,"manifests":[{"si\u007ae":1}]}`,
	`{"schemaVersion":2,"manifests":[{"platform":{"OS":"x"}}]}`,
	`{"schemaVersion":2,"Manifests":[]}`,
	`{"schemaVersion":2,"manifests":null}`,
	`{"schemaVersion":2,"manifests":[1]}`,
	`{"schemaVersion":"2","manifests":[]}`,
	`{"schemaVersion":2,"mediaType":null,"manifests":[{"annotations":null,"platform":null,"urls":null,"data":null}]}`,
	`{"schemaVersion":2,"manifests":[{"annotations":{"a":"\ud800"}}]}`,
	`{"schemaVersion":2,"manifests":[]}x`,
}

// FuzzIndexDecode checks fastIndex against encoding/json: on every document strictjson accepts
// that fastIndex decodes, encoding/json decodes the same header and entries (each raw entry the
// same bytes); what fastIndex leaves, parseIndexJSON decodes with encoding/json.
func FuzzIndexDecode(f *testing.F) {
	for _, s := range indexSeeds {
		f.Add([]byte(s))
	}
	for _, path := range []string{igStore + "/index.json", "testdata/index-foreign.json"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fh, fe, fp, err := fastIndex(data)
		if err != nil {
			if !errors.Is(err, errUnusual) {
				t.Fatalf("fastIndex: %v, want errUnusual", err)
			}
			return
		}
		if strictjson.Check(data, strictjson.Document) != nil {
			return // parseIndexJSON never gets here
		}
		sh, se, sp, err := slowIndex(data)
		if err != nil {
			t.Fatalf("fastIndex decoded what encoding/json refuses (%v): %s", err, data)
		}
		if !reflect.DeepEqual(fh, sh) || fp != sp || len(fe) != len(se) {
			t.Fatalf("header %+v (manifests %v, %d entries), encoding/json %+v (%v, %d)", fh, fp, len(fe), sh, sp, len(se))
		}
		for i := range fe {
			if string(fe[i].raw) != string(se[i].raw) || !reflect.DeepEqual(fe[i].desc, se[i].desc) {
				t.Fatalf("entry %d: %s %+v, encoding/json %s %+v", i, fe[i].raw, fe[i].desc, se[i].raw, se[i].desc)
			}
		}
	})
}

// TestFastIndex checks which documents fastIndex reads itself: the common shape, ig's own
// index.json and what this package writes; and that parseIndexJSON gives the same result or
// error as encoding/json alone for every seed.
func TestFastIndex(t *testing.T) {
	written, err := (&indexDoc{entries: []indexEntry{{desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b", Size: 3, Annotations: map[string]string{ocispec.AnnotationRefName: "r"}}}}}).marshal()
	if err != nil {
		t.Fatal(err)
	}
	ig, err := os.ReadFile(igStore + "/index.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"written by this package", written},
		{"ig's store", ig},
		{"every field", []byte(indexSeeds[1])},
		{"white space, -0, empty lists", []byte(indexSeeds[2])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := fastIndex(tc.data); err != nil {
				t.Fatalf("fastIndex left it to encoding/json: %v", err)
			}
		})
	}
	for i, s := range indexSeeds {
		t.Run("seed "+string(rune('a'+i)), func(t *testing.T) {
			data := []byte(s)
			got, gerr := parseIndexJSON(data)
			_, se, _, serr := slowIndex(data)
			if gerr != nil {
				return // the errors come from the same checks, on encoding/json's decoding
			}
			if serr != nil {
				t.Fatalf("parsed what encoding/json refuses: %v", serr)
			}
			for j := range se {
				if !reflect.DeepEqual(got.entries[j].desc, se[j].desc) {
					t.Fatalf("entry %d differs", j)
				}
			}
		})
	}
}

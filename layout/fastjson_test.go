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

// slowDoc decodes a manifest or an index with encoding/json alone, as decodeDoc did before
// fastDoc: the reference fastDoc must agree with.
func slowDoc(data []byte) (*doc, error) {
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	var lists struct {
		Layers    json.RawMessage `json:"layers"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(data, &lists); err != nil {
		return nil, err
	}
	d.layers = listField{present: lists.Layers != nil, null: string(lists.Layers) == "null"}
	d.manifests = listField{present: lists.Manifests != nil, null: string(lists.Manifests) == "null"}
	return &d, nil
}

// docSeeds are manifests and indexes of the shapes fastDoc reads and of those it leaves to
// encoding/json.
var docSeeds = []string{
	`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[{"mediaType":"a/b","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b","size":5,"annotations":{"org.opencontainers.image.title":"x"}}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b","size":5},"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json","annotations":{"k":"v"}}`,
	`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b","size":5,"platform":{"architecture":"amd64","os":"linux"}}]}`,
	`{"schemaVersion":2,"layers":[],"manifests":[]}`,
	`{"schemaVersion":2,"layers":null}`,
	`{"schemaVersion":2,"layers":[null]}`,
	`{"schemaVersion":2,"Layers":[]}`,
	`{"schemaVersion":2,"config":null,"subject":null,"annotations":null}`,
	`{"schemaVersion":2,"config":{"size":1.5}}`,
	`{"schemaVersion":2,"unknown":[{"layers":1}],"x":"\u00e9"}`,
	`{}`,
}

// FuzzDocDecode checks fastDoc against encoding/json as FuzzIndexDecode checks fastIndex.
func FuzzDocDecode(f *testing.F) {
	for _, s := range docSeeds {
		f.Add([]byte(s))
	}
	for _, path := range []string{"testdata/manifest-gadget.json"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fd, err := fastDoc(data)
		if err != nil {
			if !errors.Is(err, errUnusual) {
				t.Fatalf("fastDoc: %v, want errUnusual", err)
			}
			return
		}
		if strictjson.Check(data, strictjson.Document) != nil {
			return // decodeDoc never gets here
		}
		sd, err := slowDoc(data)
		if err != nil {
			t.Fatalf("fastDoc decoded what encoding/json refuses (%v): %s", err, data)
		}
		if !reflect.DeepEqual(fd, sd) {
			t.Fatalf("fastDoc %+v, encoding/json %+v: %s", fd, sd, data)
		}
	})
}

// TestFastDoc checks that fastDoc reads the common shapes itself (a gadget's manifest, an
// index, a referrer), and that decodeDoc gives encoding/json's result for every seed.
func TestFastDoc(t *testing.T) {
	gadget, err := os.ReadFile("testdata/manifest-gadget.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"gadget manifest", gadget},
		{"referrer with every field", []byte(docSeeds[0])},
		{"index", []byte(docSeeds[1])},
		{"empty lists", []byte(docSeeds[2])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fastDoc(tc.data); err != nil {
				t.Fatalf("fastDoc left it to encoding/json: %v", err)
			}
		})
	}
	for i, s := range docSeeds {
		t.Run("seed "+string(rune('a'+i)), func(t *testing.T) {
			got, gerr := decodeDoc([]byte(s))
			want, werr := slowDoc([]byte(s))
			if gerr != nil {
				return // strictjson or encoding/json refused it
			}
			if werr != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeDoc %+v, encoding/json %+v (%v)", got, want, werr)
			}
		})
	}
}

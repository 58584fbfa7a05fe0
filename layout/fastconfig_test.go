package layout

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/strictjson"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// configSeeds are image configs of the common shapes, and of every way encoding/json refuses
// or reads otherwise a value where ocispec.Image wants its type.
var configSeeds = []string{
	`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:5d37f5033e1d23f130654bc38e47b22a3e7d7ca60502f96509b74086ea9ff81b"]}}`,
	`{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`,
	`{"created":"2024-05-01T10:00:00.5+02:00","author":"a","architecture":"arm64","variant":"v8","os":"linux","os.version":"6.1","os.features":["x",null],
	  "config":{"User":"0","ExposedPorts":{"80/tcp":{},"81/udp":{"x":[1,"y"]}},"Env":["A=b"],"Entrypoint":["/bin/sh"],"Cmd":null,"Volumes":{"/v":{}},
	  "WorkingDir":"/","Labels":{"a":"b","c":null},"StopSignal":"SIGTERM","ArgsEscaped":true,"Healthcheck":{"Test":["NONE"]}},
	  "rootfs":{"type":"layers","diff_ids":["sha256:00"]},"history":[{"created_by":"x","comment":"\u00e9","empty_layer":false},null],"unknown":{"deep":[{}]}}`,
	`{"os":null,"config":null,"rootfs":null,"history":null,"created":null}`,
	`{}`,
	`{"architecture":5}`,
	`{"os":true}`,
	`{"os.features":"x"}`,
	`{"os.features":[1]}`,
	`{"created":"yesterday"}`,
	`{"created":"2024-05-01T10:00:00"}`,
	`{"created":12}`,
	`{"config":[]}`,
	`{"config":{"Env":"A=b"}}`,
	`{"config":{"ExposedPorts":{"80/tcp":"open"}}}`,
	`{"config":{"ExposedPorts":{"80/tcp":null}}}`,
	`{"config":{"Labels":{"a":1}}}`,
	`{"config":{"ArgsEscaped":"true"}}`,
	`{"config":{"ArgsEscaped":null}}`,
	`{"config":{"user":"root"}}`,
	`{"rootfs":{"diff_ids":[{"a":1}]}}`,
	`{"rootfs":"layers"}`,
	`{"history":{}}`,
	`{"history":[{"empty_layer":0}]}`,
	`{"history":[{"created":"2024-13-01T00:00:00Z"}]}`,
	`{"Architecture":"amd64"}`,
	`{"\u0061rchitecture":"amd64"}`,
	`{"\u0061rchitecture":1}`,
	`{"ſ":1,"K":2}`,
	` {"os":"linux"} `,
}

// FuzzConfigOK checks that whatever config fastConfigOK passes, encoding/json decodes into an
// ocispec.Image (what configViolations asks).
func FuzzConfigOK(f *testing.F) {
	for _, s := range configSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isJSONObject(data) || strictjson.Check(data, strictjson.Plain) != nil {
			return // configViolations never gets there
		}
		if !fastConfigOK(data) {
			return
		}
		var img ocispec.Image
		if err := json.Unmarshal(data, &img); err != nil {
			t.Fatalf("fastConfigOK passed what encoding/json refuses (%v): %s", err, data)
		}
	})
}

// TestFastConfigOK checks that fastConfigOK passes the common shapes itself (ig's own configs
// among them), and that configViolations agrees with encoding/json on every seed.
func TestFastConfigOK(t *testing.T) {
	own, _ := filepath.Glob(igStore + "/blobs/sha256/*")
	configs := 0
	for _, path := range own {
		data, err := os.ReadFile(path)
		if err != nil || len(data) > 4096 || !json.Valid(data) || !isJSONObject(data) {
			continue
		}
		var probe struct {
			RootFS *json.RawMessage `json:"rootfs"`
		}
		if json.Unmarshal(data, &probe) != nil || probe.RootFS == nil {
			continue // not a config
		}
		configs++
		if !fastConfigOK(data) {
			t.Errorf("fastConfigOK left ig's config %s to encoding/json: %s", filepath.Base(path), data)
		}
	}
	if configs == 0 {
		t.Errorf("no image config found in %s", igStore)
	}
	for i, s := range configSeeds[:4] {
		if !fastConfigOK([]byte(s)) {
			t.Errorf("seed %d: fastConfigOK left a common shape to encoding/json: %s", i, s)
		}
	}
	for _, s := range configSeeds {
		t.Run(s, func(t *testing.T) {
			data := []byte(s)
			if strictjson.Check(data, strictjson.Plain) != nil {
				t.Fatalf("seed refused by strictjson: %s", s)
			}
			var img ocispec.Image
			want := json.Unmarshal(data, &img) == nil
			got := configViolations(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig}, data) == nil
			if got != want {
				t.Errorf("configViolations passes: %v, encoding/json decodes: %v", got, want)
			}
			if fastConfigOK(data) && !want {
				t.Errorf("fastConfigOK passed what encoding/json refuses")
			}
		})
	}
}

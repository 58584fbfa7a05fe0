# gadgetpack: make demo (the bundled example), make test (everything CI runs).
GO        ?= go
BIN       := ./gadgetpack
PKGS      := ./...
TESTFLAGS ?= -timeout 20m
export GOFLAGS ?= -mod=readonly

.PHONY: all build test vet lint demo bench fuzz testdata clean

all: build

VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

build:
	$(GO) build -trimpath -ldflags "-X github.com/gadgetpack/gadgetpack/cli.version=$(VERSION)" -o $(BIN) .

vet:
	$(GO) vet $(PKGS)

# staticcheck comes through the Go module proxy; pinned for repeatable findings.
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above are not formatted"; exit 1; }

# Tests that need bpftool, skopeo, umoci, clang-19 or wat2wasm skip without them on a laptop
# and fail when CI is set.
test: build
	$(GO) test $(TESTFLAGS) $(PKGS)

# The main job on the bundled example, with nothing but Go: build the testdata gadgets for
# amd64 and arm64 into a layout, verify it, list and inspect it; export it to a tarball, verify
# that, import it into a fresh layout (the far side) and check both ends have one layout digest;
# then sign both gadgets with a fresh key, and carry the signed tarball through the signature gate.
DEMO := out/demo
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo '== build two gadgets (amd64 + arm64) into $(DEMO)/bundle'
	SOURCE_DATE_EPOCH=1700000000 $(BIN) build --layout $(DEMO)/bundle --tag trace_exec testdata/gadgets/trace_exec
	SOURCE_DATE_EPOCH=1700000000 $(BIN) build --layout $(DEMO)/bundle --tag trace_params testdata/gadgets/trace_params
	@echo '== verify the layout byte by byte'
	$(BIN) verify $(DEMO)/bundle
	@echo '== what it holds'
	$(BIN) list --layout $(DEMO)/bundle
	$(BIN) inspect --layout $(DEMO)/bundle trace_exec
	@echo '== export the layout to one tarball (the tar ig image import reads), with bundle.tar.sha256'
	SOURCE_DATE_EPOCH=1700000000 $(BIN) export --layout $(DEMO)/bundle -o $(DEMO)/bundle.tar
	@echo '== verify the tarball without extracting it'
	$(BIN) verify $(DEMO)/bundle.tar
	@echo '== import it into a fresh layout (the far side) and verify that'
	$(BIN) import --layout $(DEMO)/far-side $(DEMO)/bundle.tar
	$(BIN) verify $(DEMO)/far-side
	@echo '== the layout digest at each end (they must be equal)'
	@here=$$($(BIN) verify --quiet $(DEMO)/bundle | cut -d' ' -f2); \
	far=$$($(BIN) verify --quiet $(DEMO)/far-side | cut -d' ' -f2); \
	echo "bundle    $$here"; echo "far-side  $$far"; \
	test "$$here" = "$$far" || { echo "demo: the layout digests differ"; exit 1; }
	@echo '== authorship: a site key, both gadgets signed offline, the signed tarball verified and'
	@echo '   imported through the signature gate, then copied into a fresh ig-style store'
	COSIGN_PASSWORD=demo $(BIN) keygen --output-key-prefix $(DEMO)/site
	COSIGN_PASSWORD=demo $(BIN) sign --layout $(DEMO)/bundle --key $(DEMO)/site.key --all
	$(BIN) list --layout $(DEMO)/bundle --public-key $(DEMO)/site.pub
	SOURCE_DATE_EPOCH=1700000000 $(BIN) export --layout $(DEMO)/bundle -o $(DEMO)/signed.tar
	$(BIN) verify --public-key $(DEMO)/site.pub $(DEMO)/signed.tar
	$(BIN) import --layout $(DEMO)/far-side-signed --public-key $(DEMO)/site.pub $(DEMO)/signed.tar
	$(BIN) copy --layout $(DEMO)/far-side-signed --to $(DEMO)/ig-store --public-key $(DEMO)/site.pub
	$(BIN) verify --rules ig --public-key $(DEMO)/site.pub $(DEMO)/ig-store

# Benchmarks side by side with the physical limit and the peer tools; see scripts/bench.sh.
bench: build
	./scripts/bench.sh
	./scripts/bench-tarball.sh
	./scripts/bench-registry.sh
	./scripts/bench-scale.sh

# Each fuzz target for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# Rebuild the committed test inputs (needs clang-19, bpftool, wat2wasm).
testdata:
	$(MAKE) -C testdata

clean:
	rm -rf $(BIN) out

# mlaudit: `make test` installs what the tests need and runs every test.

GO ?= go
# Debian packages the tests use: the distribution registry, skopeo as an
# independent client, and chromium to open the HTML report.

.PHONY: test deps lint demo testdata bench fuzz

# staticcheck, pinned, from the Go module proxy.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Tools the tests run as independent clients, pinned, built from the Go
# module proxy into BIN by make deps (the tests look there before PATH):
# cosign signs and verifies offline with a key; regctl reads and writes.
BIN := $(CURDIR)/bin
COSIGN := github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
REGCTL := github.com/regclient/regclient/cmd/regctl@v0.11.7

# Fuzz targets (package:name) run briefly by make test; their seed corpora
# are committed under each package's testdata/fuzz. report's
# FuzzRenderHostile renders tables (a few ms each), too slow for a 5 s
# run on a loaded 2-core machine (its baseline alone can take the whole
# budget): its seeds run with every `go test ./report`; fuzz it with
# `go test -fuzz FuzzRenderHostile -fuzztime 5m ./report`.
FUZZ := platform:FuzzParse platform:FuzzFromTag policy:FuzzParse policy:FuzzParseTyped registry:FuzzWalkAndCheck ref:FuzzParse ref:FuzzParsePattern deep:FuzzClassify deep:FuzzScan
FUZZTIME ?= 5s
# Minimizing new inputs is off for these short runs: a minimization cut
# off by the end of -fuzztime fails the run with "context deadline
# exceeded" (seen in CI rehearsals, on targets that find new coverage
# late). For a long run, turn it on: make fuzz FUZZTIME=5m FUZZMINIMIZE=60s.
FUZZMINIMIZE ?= 0

## test: install test dependencies, vet, staticcheck, gofmt, every test under the race detector, short fuzz runs
test: deps lint
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz

## fuzz: run each fuzz target for FUZZTIME (make fuzz FUZZTIME=5m for a long run)
fuzz:
	@for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./$$pkg || exit 1; \
	done

## deps: install Debian's docker-registry, skopeo, chromium, prometheus (with promtool) and prometheus-pushgateway, and the pinned cosign and regctl into bin/, when missing
deps:
	@missing=""; \
	command -v docker-registry >/dev/null 2>&1 || missing="$$missing docker-registry"; \
	command -v skopeo >/dev/null 2>&1 || missing="$$missing skopeo"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v prometheus-pushgateway >/dev/null 2>&1 || missing="$$missing prometheus-pushgateway"; \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		echo "make deps: installing$$missing with apt-get"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends$$missing >/dev/null; \
	fi; \
	command -v docker-registry >/dev/null && command -v skopeo >/dev/null && command -v chromium >/dev/null && \
		command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v prometheus-pushgateway >/dev/null
	@[ -x "$(BIN)/cosign" ] || { echo "make deps: installing $(COSIGN) into bin/"; GOBIN="$(BIN)" $(GO) install $(COSIGN); }
	@[ -x "$(BIN)/regctl" ] || { echo "make deps: installing $(REGCTL) into bin/"; GOBIN="$(BIN)" $(GO) install $(REGCTL); }
	@[ -x "$(BIN)/cosign" ] && [ -x "$(BIN)/regctl" ] || { echo "make deps: bin/cosign or bin/regctl is missing"; exit 1; }

## lint: go vet, staticcheck, gofmt, and go.mod/go.sum tidy (goreleaser's first hook checks it too)
lint:
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## demo: the main job on an embedded registry
demo:
	$(GO) run ./cmd/mlaudit demo

## testdata: rebuild the committed fixtures (the reference OCI layout and the shapes of real exports)
testdata:
	$(GO) run ./testdata/gen testdata

## bench: audit 1,000 tags through a registry 20 ms away, cold and warm; pings and tokens per 100 repositories; 2,000 and 10,000 tags cold and warm (peak heap, wall time, and the built binary's peak RSS at 10,000); deep-check a realistic image; a hostile fan-out index
bench:
	$(GO) test -run '^$$' -bench BenchmarkAudit -benchtime 3x ./internal/bench
	$(GO) test -run '^$$' -bench BenchmarkTokens -benchtime 1x ./internal/bench
	$(GO) test -run '^$$' -bench BenchmarkScale -benchtime 1x -timeout 20m ./internal/bench
	$(GO) test -run '^$$' -bench BenchmarkInspect -benchtime 20x ./deep
	$(GO) test -run '^$$' -bench BenchmarkFanOut -benchtime 3x ./audit

## image: build mlaudit's own multi-arch image (scratch + /mlaudit, linux amd64, arm64, arm/v7, ppc64le, s390x, riscv64) into the OCI layout bin/image, tag latest
.PHONY: image
image:
	rm -rf $(BIN)/image
	$(GO) run ./internal/cmd/mkimage -o $(BIN)/image -tag latest

# fleetcast — see README.md. `make demo` runs the demo, `make test` the tests.
GO        ?= go
BIN       := bin/fleetcast
GOTEST    ?= $(GO) test -count=1 -timeout 20m
FUZZTIME  ?= 10s

# Build metadata, stamped into github.com/prometheus/common/version (what
# `fleetcast version`, every subcommand's --version and fleetcast_build_info
# report), as Prometheus and its exporters do.
VERSION    ?= $(shell cat VERSION)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo none)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo none)
BUILD_USER ?= $(shell whoami)@$(shell hostname)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
BUILDTAGS  ?= netgo,osusergo
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS    := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=$(BUILD_USER) -X $(VERSION_PKG).BuildDate=$(BUILD_DATE)
export VERSION LDFLAGS BUILDTAGS

.PHONY: all build dist test test-go test-rules fuzz tools tools-prom3 demo bench eval lint dashboards clean eval-detect

all: build

build:
	$(GO) build -tags $(BUILDTAGS) -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/fleetcast

## dist: release archives for linux and darwin, amd64 and arm64, with SHA256SUMS, in dist/
dist:
	@GO=$(GO) scripts/dist.sh

## tools: install the real Prometheus, promtool, Alertmanager and amtool the tests use
tools:
	@scripts/install-tools.sh

## tools-prom3: build promtool 3.x from the Go module proxy (slow: ~7 min on 2 cores), to test the rules on 3.x
PROM3_DIR ?= $(shell $(GO) env GOPATH)/prom3
tools-prom3:
	@if [ -x $(PROM3_DIR)/promtool ]; then echo "tools: $(PROM3_DIR)/promtool is installed"; \
	else echo "tools: building promtool 3.x into $(PROM3_DIR)"; \
	GOBIN=$(PROM3_DIR) $(GO) install github.com/prometheus/prometheus/cmd/promtool@v0.316.0; fi

## test: everything CI runs
test: tools build test-go test-rules fuzz

test-go:
	$(GO) vet ./...
	$(GOTEST) ./...

## test-rules: promtool check and unit-test the rule files
test-rules:
	@if [ -x scripts/test-rules.sh ]; then scripts/test-rules.sh; else echo "rules: no rule tests yet"; fi

## fuzz: short fuzz runs of every input parser
fuzz:
	@if [ -x scripts/fuzz.sh ]; then FUZZTIME=$(FUZZTIME) scripts/fuzz.sh; else echo "fuzz: no fuzz targets yet"; fi

demo: tools build
	$(BIN) demo

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(BIN) bench

## eval-detect: the anomaly detector's leave-one-group-out table of detect/README.md (about 2 to 3 min
## on the shared machine; scripts/evaldetect --diagnose GROUP shows where a group loses its points)
NAB_DIR ?= ../shared/data/nab
MS_DIR  ?= ../shared/data/ms-anomaly
FLEET   ?= ../shared/data/cluster/full.csv
eval-detect:
	nice $(GO) run ./scripts/evaldetect --nab $(NAB_DIR) --ms $(MS_DIR) --fleet $(FLEET)

## eval: the forecaster's accuracy table on every development set, next to the PromQL anchors
## (scripts/eval.sh; about 8 minutes on 2 busy cores; SETS=... to run fewer)
eval: build
	nice scripts/eval.sh $(BIN)

## lint: gofmt, go vet and staticcheck at a pinned version (what CI runs)
STATICCHECK_VERSION ?= v0.8.2
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run ./scripts/sizes -fail

clean:
	rm -rf bin dist

# kubepulse — `make test` is what CI runs (.ci/run): it builds the real
# components the end-to-end tests use, then runs every test.
GO        ?= go
BIN       ?= bin/kubepulse
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 5s
E2E_TIMEOUT ?= 45m

# Real components for test/e2e (see test/kube/README.md, test/observability/README.md).
KUBE_COMPONENTS ?= all
OBS_COMPONENTS  ?= prometheus alertmanager jaeger chromium

.PHONY: all build demo test test-unit test-e2e deps-e2e fuzz-smoke bench vet fmt clean manifests dashboards image

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kubepulse

demo:
	$(GO) run ./cmd/kubepulse demo

## test: everything CI checks, on a clean machine (cold: builds kube + observability first).
test: deps-e2e vet test-unit fuzz-smoke test-e2e

## test-unit: fast tests, no external components, with the race detector.
test-unit:
	$(GO) test -race -count=1 ./...
	cd dashboards/lint && $(GO) test -race -count=1 ./...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/...
	cd dashboards/lint && $(GO) vet ./...

## deps-e2e: build (once, cached in ~/.cache) the real components test/e2e starts.
## Both builds run side by side so their downloads overlap.
deps-e2e:
	@set -e; \
	bash test/kube/build.sh $(KUBE_COMPONENTS) >/tmp/kubepulse-kube-build.log 2>&1 & k=$$!; \
	bash test/observability/install.sh $(OBS_COMPONENTS) >/tmp/kubepulse-obs-install.log 2>&1 & o=$$!; \
	bash test/tools/install-helm.sh >/tmp/kubepulse-helm-install.log 2>&1 & h=$$!; \
	ok=1; wait $$k || { ok=0; echo "test/kube/build.sh failed:"; tail -40 /tmp/kubepulse-kube-build.log; }; \
	wait $$o || { ok=0; echo "test/observability/install.sh failed:"; tail -40 /tmp/kubepulse-obs-install.log; }; \
	wait $$h || { ok=0; echo "test/tools/install-helm.sh failed:"; tail -40 /tmp/kubepulse-helm-install.log; }; \
	[ $$ok = 1 ]; tail -3 /tmp/kubepulse-kube-build.log; tail -8 /tmp/kubepulse-obs-install.log

## test-e2e: end-to-end tests against real kube-apiserver, Prometheus, Alertmanager, Jaeger, Chromium.
test-e2e:
	$(GO) test -race -count=1 -tags e2e -timeout $(E2E_TIMEOUT) ./test/e2e/...

## fuzz-smoke: every fuzz target for FUZZTIME each (seed corpus + new inputs).
fuzz-smoke:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: the benchmarks recorded in BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./...

## manifests: regenerate manifests/kubepulse.yaml (the Helm chart with default values).
manifests:
	@helm=$$(bash test/tools/install-helm.sh) && \
	  $$helm template kubepulse manifests/charts/kubepulse --namespace kubepulse > manifests/kubepulse.yaml

## dashboards: regenerate dashboards/*.json, the rule file and the chart's copies from Go.
dashboards:
	$(GO) test ./dashboards -run TestGenerated -count=1 -update

## image: multi-arch OCI image in dist/image (+ dist/kubepulse-image.tar), no Docker or registry.
image:
	$(GO) run ./manifests/image -out dist/image -tar dist/kubepulse-image.tar -version $(VERSION)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist

# imagegate — build, run and test. Every Go command here, in scripts/test.sh and in
# the Dockerfile gets the same two flags (README "Go flags"): GOEXPERIMENT=jsonv2,
# which Trivy (the scanner) needs on Go 1.26, and CGO_ENABLED=0, for a static binary.
# Run `go` by hand with the same ones — `eval "$$(make -s env)"` — or it rebuilds
# everything (a different CGO_ENABLED is a different build cache key).
# Only scripts/race.sh differs: -race needs CGO_ENABLED=1.
export GOEXPERIMENT := jsonv2
export CGO_ENABLED := 0

PKG      := github.com/imagegate/imagegate
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/buildinfo.Version=$(VERSION) -X $(PKG)/internal/buildinfo.Commit=$(COMMIT)

.PHONY: build run test unit vet fmt clean env bench

## build: the static binary bin/imagegate
build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/imagegate ./cmd/imagegate

## run: imagegate on its embedded defaults (127.0.0.1:5000, data under ./data)
run: build
	./bin/imagegate serve

## test: the whole suite — installs and starts what it needs (Docker engine, conformance suite)
test:
	bash scripts/test.sh

## bench: imagegate against distribution v3.1.2 on this disk, then the tarball door
## against skopeo (docs/performance.md); installs crane and skopeo (scripts/install-clients.sh);
## BENCHFLAGS passes flags (e.g. BENCHFLAGS=-quick for a smoke run, -rounds 5)
bench: build
	go build -o bin/imagegate-bench ./cmd/imagegate-bench
	eval "$$(bash scripts/install-clients.sh)" && \
	./bin/imagegate-bench -imagegate bin/imagegate -distribution "$$(bash scripts/build-distribution.sh)" \
		-crane "$$CRANE_BIN" -skopeo "$$SKOPEO_BIN" $(BENCHFLAGS)

## unit: only the Go tests that need nothing installed
unit:
	go test -count=1 ./...

vet:
	go vet ./...

## env: the Go flags of every build and test, for `eval "$(make -s env)"`
env:
	@echo "export GOEXPERIMENT=$(GOEXPERIMENT) CGO_ENABLED=$(CGO_ENABLED)"

fmt:
	gofmt -l -w .

clean:
	rm -rf bin build

# imagegate — build, run and test. Every Go command here gets GOEXPERIMENT=jsonv2,
# which Trivy (the scanner) needs on Go 1.26.
export GOEXPERIMENT := jsonv2
export CGO_ENABLED := 0

PKG      := github.com/imagegate/imagegate
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/buildinfo.Version=$(VERSION) -X $(PKG)/internal/buildinfo.Commit=$(COMMIT)

.PHONY: build run test unit vet fmt clean

## build: the static binary bin/imagegate
build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/imagegate ./cmd/imagegate

## run: imagegate on its embedded defaults (127.0.0.1:5000, data under ./data)
run: build
	./bin/imagegate serve

## test: the whole suite — installs and starts what it needs (Docker engine, conformance suite)
test:
	bash scripts/test.sh

## unit: only the Go tests that need nothing installed
unit:
	go test -count=1 ./...

vet:
	go vet ./...

fmt:
	gofmt -l -w .

clean:
	rm -rf bin build

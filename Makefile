# sesame — build, test, run. `make test` is what CI runs (.ci/run); it installs what it needs.

GO      ?= go
TAGS    := urfave_cli_no_docs
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin/sesame
GOBIN   := $(shell $(GO) env GOPATH)/bin

# Pinned tools.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

FUZZTIME       ?= 4s
FUZZTIME_LONG  ?= 2m

.PHONY: all build run test test-go fuzz-short fuzz bench bench-peers lint clean deps-test

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) .

# Build and start the hub and the headless roles in the foreground (Ctrl-C stops them).
run: build
	$(BIN) up

# Everything CI checks: vet, the whole test suite (real processes, real sockets), and every
# fuzz target for a few seconds.
test: deps-test build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) fuzz-short

# Packages the tests use from the system.
deps-test:
	@command -v bash >/dev/null || (apt-get update && apt-get install -y bash)
	@command -v ssh-agent >/dev/null || (apt-get update && apt-get install -y openssh-client)

# Every fuzz target in the tree, briefly (fuzz-short) or longer (fuzz).
fuzz-short:
	@FUZZTIME=$(FUZZTIME) ./.ci/fuzz
fuzz:
	@FUZZTIME=$(FUZZTIME_LONG) ./.ci/fuzz

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

# sesame against pass, gopass, secret-tool, age and fzf on this machine; writes docs/benchmarks.md.
bench-peers:
	./bench/peers.sh

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin

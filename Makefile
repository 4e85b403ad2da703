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

# Everything CI checks: gofmt (an unformatted file fails the run), vet, the whole test suite
# (real processes, real sockets), and every fuzz target for a few seconds.
# Then systemd-analyze on the units, both .debs built and checked with lintian, and installed
# into a throw-away root (about 30 s; more the first time, which installs nfpm and lintian).
test: deps-test build deps-packaging
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) fuzz-short
	$(MAKE) verify-units lint-deb install-test

# Packages the tests use from the system.
deps-test:
	@command -v bash >/dev/null || (apt-get update && apt-get install -y bash)
	@command -v ssh-agent >/dev/null || (apt-get update && apt-get install -y openssh-client)
	@# A private system bus for the SSID probe's tests (internal/nmtest runs a fake NetworkManager on it).
	@command -v dbus-daemon >/dev/null || (apt-get update && apt-get install -y dbus-daemon)
	@# A small corpus of real desktop files for the xdg and launcher tests, desktop-file-validate
	@# to compare with, tmux to drive the launcher's picker in a real terminal.
	@[ -e /usr/share/applications/htop.desktop ] && [ -e /usr/share/applications/mc.desktop ] && \
	  [ -e /usr/share/applications/debian-xterm.desktop ] && command -v desktop-file-validate >/dev/null && \
	  command -v tmux >/dev/null || (apt-get update && apt-get install -y htop mc xterm desktop-file-utils tmux)
	@# The desktop roles' test bed: a headless compositor, terminals to switch between, the
	@# clipboard and keyboard tools, screenshots, and a font for the overlay.
	@(for t in sway foot wl-copy wtype grim; do command -v $$t >/dev/null || exit 1; done; \
	  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]) || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  sway foot wl-clipboard wtype grim fonts-dejavu-core >/dev/null)

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
	rm -rf bin dist

# --- Packaging: systemd units, completions and man page, two .debs (see README, "Packages").

NFPM_VERSION := v2.45.2
NFPM         := $(GOBIN)/nfpm
DEB_ARCH     := $(shell $(GO) env GOARCH)
DEB_VERSION  := $(shell packaging/deb-version)
DOCS         := dist/docs
DEB          := dist/open-sesame_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_DESKTOP  := dist/open-sesame-desktop_$(DEB_VERSION)_$(DEB_ARCH).deb

.PHONY: docs verify-units deb lint-deb install-test deps-packaging nfpm

# Completions (bash, zsh, fish) and the man page, from the real command definitions.
docs:
	$(GO) run -tags gendocs ./internal/gendocs -out $(DOCS) -version $(VERSION)
	@bash --norc --noprofile -c 'source $(DOCS)/sesame.bash && complete -p sesame >/dev/null && \
	  COMP_WORDS=(sesame sec) COMP_CWORD=1 && _sesame && [ "$${COMPREPLY[*]}" = secret ]' || \
	  (echo "docs: $(DOCS)/sesame.bash does not complete 'sesame sec' to 'secret'" >&2; exit 1)

# systemd-analyze verify on every unit, laid out as the packages install them.
verify-units: deps-packaging build docs
	packaging/verify-units $(BIN)

# The two packages, with nfpm (pinned; installed into GOBIN when missing or another version).
deb: build docs nfpm
	rm -f dist/*.deb
	packaging/debdocs $(DEB_VERSION) $(BIN) $(DOCS) dist/deb
	DEB_VERSION=$(DEB_VERSION) DEB_ARCH=$(DEB_ARCH) $(NFPM) package -f nfpm.yaml -p deb -t $(DEB)
	DEB_VERSION=$(DEB_VERSION) DEB_ARCH=$(DEB_ARCH) $(NFPM) package -f packaging/open-sesame-desktop.yaml -p deb -t $(DEB_DESKTOP)

nfpm:
	@test "$$($(GO) version -m $(NFPM) 2>/dev/null | awk '$$1 == "mod" { print $$3 }')" = $(NFPM_VERSION) || \
	  GOBIN=$(GOBIN) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)

# lintian on both packages: no error (warnings are listed in README, "Packages").
lint-deb: deps-packaging deb
	lintian --fail-on error --display-info $(DEB) $(DEB_DESKTOP)

# Install both into a throw-away root with dpkg and use them (packaging/install-test).
install-test: deb
	packaging/install-test $(DEB) $(DEB_DESKTOP) $(VERSION)

# What the packaging targets use from the system: systemd-analyze, lintian, zsh and fish (the
# completion tests use the last two when present).
deps-packaging:
	@missing=; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	command -v lintian >/dev/null || missing="$$missing lintian"; \
	command -v zsh >/dev/null || missing="$$missing zsh"; \
	command -v fish >/dev/null || missing="$$missing fish"; \
	command -v man >/dev/null || missing="$$missing man-db"; \
	if [ -n "$$missing" ]; then apt-get update && apt-get install -y $$missing; fi

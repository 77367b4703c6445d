# XenScope — build, test, demo, install.
# `make demo` and `make test` install what they need on a fresh Debian machine.

PREFIX ?= /usr/local
SWIFT  ?= swift
export XENSCOPE_CACHE ?= $(HOME)/.cache/xenscope
SAMPLE ?= samples/xen-4.x-public.xentrace

.PHONY: all deps peers build release test demo install bench clean

all: build

deps:
	@./scripts/install-deps.sh

peers: deps
	@./scripts/fetch-peers.sh >/dev/null
	@./scripts/fetch-duckdb.sh >/dev/null

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The whole test suite. Peers (xentrace_format, xenalyze, eu-addr2line, gdb)
# are fetched first so that parity tests always run.
test: deps peers
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: release
	.build/release/xenscope trace info $(SAMPLE)
	.build/release/xenscope trace decode --limit 20 $(SAMPLE)

install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 .build/release/xenscope $(DESTDIR)$(PREFIX)/bin/xenscope

bench: deps
	cd Benchmarks && $(SWIFT) build -c release

clean:
	rm -rf .build

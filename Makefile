# XenScope — build, test, demo, install.
# `make demo` and `make test` install what they need on a fresh Debian machine.

PREFIX ?= /usr/local
SWIFT  ?= swift
export XENSCOPE_CACHE ?= $(HOME)/.cache/xenscope
SAMPLE ?= samples/xen-4.x-public.xentrace

CONFIG ?= release
BIN    ?= .build/$(CONFIG)/xenscope
# Where argument-parser's generate-manual plugin writes the man page.
MANPAGE = .build/plugins/GenerateManual/outputs/XenScopeCLI/xenscope.1

.PHONY: check-docs bench-linux-crash linux-guest all deps peers build release test demo install install-files man check-install bench bench-symbolize clean fuzz fuzz-trace fuzz-dump fuzz-formats fuzz-gdbstub fuzz-elf fuzz-dwarf fuzz-analysis fuzz-json lab lab-test
FUZZ_SECONDS ?= 45

all: build

deps:
	@./scripts/install-deps.sh

peers: deps
	@./scripts/fetch-peers.sh >/dev/null
	@./scripts/fetch-duckdb.sh >/dev/null

# Debian's kernel crashed under QEMU and dumped three ways (samples/guests/linux/,
# cached in $(XENSCOPE_CACHE)/linux-guest; first run: 858 MB -dbg download + ~1 min boot).
# Also its makedumpfile -l conversion (lzo pages; scripts/makedumpfile-lzo.sh, cached).
# And Debian's arm64 kernel the same way under qemu-system-aarch64 (samples/guests/linux-arm64/,
# cached in $(XENSCOPE_CACHE)/linux-guest-arm64; first run: 804 MB -dbg download + ~30 s boot),
# And Debian trixie's amd64 kernel (Linux 6.12: the 6.4+/6.7+ module and thread layouts) the
# same way (samples/guests/linux-trixie/, packages from deb.debian.org's trixie through a private
# apt configuration, cached in $(XENSCOPE_CACHE)/linux-guest-trixie; first run: 1.15 GB download
# (~30 s here), vmlinux read out of the -dbg .deb (~20 s), boot + dumps ~50 s).
# and drgn from PyPI (a venv in the cache), the reference for its backtrace.
linux-guest: deps
	@d="$$(./samples/guests/linux/make-dumps.sh | tail -n 1)" && ./scripts/makedumpfile-lzo.sh "$$d" >/dev/null
	@./samples/guests/linux-arm64/make-dumps.sh >/dev/null
	@./samples/guests/linux-trixie/make-dumps.sh >/dev/null
	@[ -x "$(XENSCOPE_CACHE)/drgn-venv/bin/python" ] || { python3 -m venv "$(XENSCOPE_CACHE)/drgn-venv" && "$(XENSCOPE_CACHE)/drgn-venv/bin/pip" install -q drgn; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The whole test suite. Peers (xentrace_format, xenalyze, eu-addr2line, gdb)
# are fetched first so that parity tests always run.
# The lab (a real Xen 4.17 under QEMU, docs/lab.md) is part of it: lab/gate.sh
# boots its CI profiles (lab/ci-profiles) when needed; outside CI it skips the lab, saying so,
# when it cannot run; with CI set that is a failure.
test: deps peers linux-guest check-docs
	$(SWIFT) build --build-tests
	@rc=0; lab/gate.sh || rc=$$?; \
	if [ $$rc -eq 0 ]; then $(SWIFT) test --skip-build --skip LabExtraTests; \
	elif [ $$rc -eq 3 ]; then $(SWIFT) test --skip-build --skip LabTests --skip LabExtraTests; \
	else exit $$rc; fi
	$(MAKE) --no-print-directory check-install CONFIG=debug
	FUZZ_ARGS="$(TEST_FUZZ_ARGS)" $(MAKE) --no-print-directory fuzz

# Every public type and function in Sources/ has a doc comment (textual, < 1 s);
# a gap fails `make check-docs` and so `make test`.
check-docs:
	@python3 scripts/check-doc-comments.py

# libFuzzer targets, each run for a bounded time (FUZZ_SECONDS).
# Inside `make test` the runs are reproducible: a fixed seed and a fixed
# number of inputs (each run then explores a prefix of the same sequence, so
# what CI finds is what a developer's run of the same commit finds). `make
# fuzz` alone explores with a random seed for the whole time.
TEST_FUZZ_ARGS ?= -seed=1 -runs=15000
FUZZ_TARGETS = trace dump formats gdbstub elf dwarf analysis json
fuzz: $(FUZZ_TARGETS:%=fuzz-%)

# Each target's seconds (override any: `make fuzz-dump FUZZ_DUMP_SECONDS=60`).
# Trace reader and decoder: FUZZ_SECONDS.
FUZZ_TRACE_SECONDS ?= $(FUZZ_SECONDS)
# Dump readers (ELF-core notes, kdump-compressed, xc_core).
FUZZ_DUMP_SECONDS ?= 20
# Formats engine (parser, %-renderer, xentrace_format emulation).
FUZZ_FORMATS_SECONDS ?= 30
# The gdb remote-protocol engine (packet parser + session), Fuzz/gdbstub/.
FUZZ_GDBSTUB_SECONDS ?= 20
# The ELF loader (headers, notes, cores).
FUZZ_ELF_SECONDS ?= 20
# The symbolizer's inputs (ELF symbols, DWARF through libdw/libdwfl, struct layouts).
FUZZ_DWARF_SECONDS ?= 20
# The trace analyses (summary, exporters, report, diff over fuzzed traces).
FUZZ_ANALYSIS_SECONDS ?= 30
# The JSON pull reader and the saved-summary reader of `trace diff` (after
# analysis, whose instrumented modules it links when they are current).
FUZZ_JSON_SECONDS ?= 20

# `make fuzz-NAME`: scripts/fuzz-NAME.sh for FUZZ_NAME_SECONDS.
$(FUZZ_TARGETS:%=fuzz-%): fuzz-%:
	./scripts/fuzz-$*.sh $(FUZZ_$(shell echo $* | tr a-z A-Z)_SECONDS)

# Every lab profile, booted afresh, into lab/results/PROFILE (gitignored);
# `make test` boots those in lab/ci-profiles (ci, selfbuilt, arm64: LabTests);
# pvh, gdbperf, gdbhvm and gdbavx are make-lab-only (LabExtraTests).
LAB_PROFILES ?= ci pvh selfbuilt gdbperf gdbhvm gdbavx arm64
lab: deps peers
	@for p in $(LAB_PROFILES); do lab/run.sh $$p || exit 1; done

# The tests that read the lab's results.
lab-test: deps peers
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter 'LabTests|LabExtraTests'

# The bundled real trace read three ways: per-CPU table, decoded records, the
# start of the xenalyze-class summary (pCPUs, top domains).
demo: release
	.build/release/xenscope trace info $(SAMPLE)
	.build/release/xenscope trace decode --limit 20 $(SAMPLE)
	.build/release/xenscope trace summary $(SAMPLE) | head -n 18
	@echo "more: xenscope trace report|export|diff|record, crash, gdbstub, symbolize (README.md, docs/)"

# Binary, man page (argument-parser's generate-manual plugin) and shell completions.
install: release
	$(MAKE) --no-print-directory man install-files CONFIG=release

man:
	$(SWIFT) package generate-manual --configuration $(CONFIG) >/dev/null

install-files:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/xenscope
	install -m 0644 $(MANPAGE) $(DESTDIR)$(PREFIX)/share/man/man1/xenscope.1
	$(BIN) --generate-completion-script bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/xenscope
	$(BIN) --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_xenscope
	$(BIN) --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/xenscope.fish

# Installs into a temporary PREFIX and checks every installed file works.
check-install: man
	@tmp=$$(mktemp -d) && $(MAKE) --no-print-directory install-files CONFIG=$(CONFIG) PREFIX=$$tmp/usr >/dev/null \
	  && ./scripts/check-install.sh $$tmp/usr; rc=$$?; rm -rf $$tmp; exit $$rc

bench: deps
	cd Benchmarks && $(SWIFT) build -c release
	@echo "run: Benchmarks/.build/release/trace-decode [TRACE]   (from the repository root)"

# Linux guest dump: first backtrace and full kernel log, XenScope vs crash, gdb and
# drgn (PyPI, in a venv in the cache); docs/performance.md.
bench-linux-crash: deps linux-guest
	@[ -x "$(XENSCOPE_CACHE)/drgn-venv/bin/python" ] || { python3 -m venv "$(XENSCOPE_CACHE)/drgn-venv" && "$(XENSCOPE_CACHE)/drgn-venv/bin/pip" install -q drgn; }
	cd Benchmarks && $(SWIFT) build -c release --product linux-crash
	Benchmarks/.build/release/linux-crash "$$(./samples/guests/linux/make-dumps.sh | tail -n 1)" "$(XENSCOPE_CACHE)/drgn-venv/bin/python"

# Symbolizer vs eu-addr2line, addr2line, llvm-symbolizer on Debian's debug vmlinux.
bench-symbolize: deps
	command -v llvm-symbolizer >/dev/null || apt-get install -y -qq --no-install-recommends llvm
	cd Benchmarks && $(SWIFT) build -c release --product symbolize
	Benchmarks/.build/release/symbolize --elf "$$(./scripts/fetch-vmlinux.sh)"

clean:
	rm -rf .build .build-fuzz

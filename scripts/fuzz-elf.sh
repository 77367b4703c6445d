#!/usr/bin/env bash
# Builds the libFuzzer target for the ELF loader (Fuzz/ELFLoaderFuzz.swift,
# with BinaryIO and ELF compiled in, instrumented, under ASan) and runs it for
# a bounded time. Seeds are compiled here from Tests/Fixtures (no binaries in git).
# Usage: scripts/fuzz-elf.sh [SECONDS]   (default 30)
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-30}"
B=.build-fuzz/elf
mkdir -p "$B/corpus" "$B/artifacts"
fuzz_build "$B" "$B/fuzz-elf" Fuzz/ELFLoaderFuzz.swift BinaryIO ELF
# Seeds: a small executable, an object file and a truncated copy.
cc -O1 Tests/Fixtures/elf/hello.c -o "$B/corpus/hello"
cc -O1 -c Tests/Fixtures/elf/hello.c -o "$B/corpus/hello.o"
head -c 700 "$B/corpus/hello" > "$B/corpus/hello-cut"
fuzz_run "the ELF loader" "$B/fuzz-elf" "$secs" 65536 "$B/artifacts/" 8 "$B/corpus"

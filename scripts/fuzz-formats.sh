#!/usr/bin/env bash
# Builds the libFuzzer target for the formats engine (Fuzz/FormatsFuzz.swift,
# with BinaryIO, XenTrace and XenTraceFormats compiled in, instrumented, under
# ASan) and runs it for a bounded time. Usage: scripts/fuzz-formats.sh [SECONDS]
# New crashing inputs land in .build-fuzz/formats-artifacts/; copy them into
# Fuzz/formats-seeds/ so every later run starts from them.
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-60}"
B=.build-fuzz/formats
mkdir -p "$B/corpus" "$B/../formats-artifacts"
fuzz_build "$B" "$B/fuzz-formats" Fuzz/FormatsFuzz.swift BinaryIO XenTrace XenTraceFormats
fuzz_run "the formats engine" "$B/fuzz-formats" "$secs" 4096 "$B/../formats-artifacts/" 12 "$B/corpus" Fuzz/formats-seeds

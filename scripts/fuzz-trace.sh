#!/usr/bin/env bash
# Builds the libFuzzer target for the trace reader (Fuzz/TraceReaderFuzz.swift,
# with BinaryIO and XenTrace compiled in, instrumented, under ASan) and runs it
# for a bounded time. Usage: scripts/fuzz-trace.sh [SECONDS]   (default 60)
# New crashing inputs land in .build-fuzz/artifacts/; copy them into
# Tests/XenTraceTests/Corpus/ so the tests replay them for ever.
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-60}"
B=.build-fuzz
mkdir -p "$B/corpus" "$B/artifacts"
fuzz_build "$B" "$B/fuzz-trace" Fuzz/TraceReaderFuzz.swift BinaryIO XenTrace
fuzz_run "the trace reader" "$B/fuzz-trace" "$secs" 65536 "$B/artifacts/" 25 "$B/corpus" Fuzz/seeds Tests/XenTraceTests/Corpus

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
fuzz_modules "$B" BinaryIO XenTrace
fuzz_link "$B" "$B/fuzz-trace" Fuzz/TraceReaderFuzz.swift BinaryIO XenTrace
echo "fuzzing the trace reader for ${secs}s"
"$B/fuzz-trace" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
  -artifact_prefix="$B/artifacts/" "$B/corpus" Fuzz/seeds Tests/XenTraceTests/Corpus 2>&1 | tail -n 25

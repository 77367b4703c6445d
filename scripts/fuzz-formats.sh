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
fuzz_modules "$B" BinaryIO XenTrace XenTraceFormats
fuzz_link "$B" "$B/fuzz-formats" Fuzz/FormatsFuzz.swift BinaryIO XenTrace XenTraceFormats
echo "fuzzing the formats engine for ${secs}s"
"$B/fuzz-formats" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout=10 -rss_limit_mb=4096 -max_len=4096 \
  -artifact_prefix="$B/../formats-artifacts/" "$B/corpus" Fuzz/formats-seeds 2>&1 | tail -n 12

#!/usr/bin/env bash
# Builds the libFuzzer target for the JSON pull reader and the saved-summary
# reader of `trace diff` (Fuzz/SummaryJSONFuzz.swift; BinaryIO, XenTrace,
# JSONPull and XenTraceAnalysis compiled in, instrumented, under ASan) and
# runs it for a bounded time.
# Usage: scripts/fuzz-json.sh [SECONDS]   (default 60)
# Seeds: Fuzz/json-seeds and the replay corpus Tests/XenTraceAnalysisTests/JSONCorpus
# (copy new findings from .build-fuzz/json/artifacts/ there; the tests replay them).
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-60}"
B=.build-fuzz/json
mkdir -p "$B/corpus" "$B/artifacts"
mods=(BinaryIO XenTrace JSONPull XenTraceAnalysis)
# fuzz-analysis (run just before in `make fuzz`) compiles the same modules
# with the same flags: link against them when they are newer than every source.
A=.build-fuzz/analysis
if [ -f "$A/XenTraceAnalysis.o" ] && [ -z "$(find "${mods[@]/#/Sources/}" -newer "$A/XenTraceAnalysis.o" -print -quit)" ]; then
  fuzz_link "$A" "$B/fuzz-json" Fuzz/SummaryJSONFuzz.swift "${mods[@]}"
else
  fuzz_build "$B" "$B/fuzz-json" Fuzz/SummaryJSONFuzz.swift "${mods[@]}"
fi
fuzz_run "the summary JSON reader" "$B/fuzz-json" "$secs" 65536 "$B/artifacts/" 12 \
  "$B/corpus" Fuzz/json-seeds Tests/XenTraceAnalysisTests/JSONCorpus

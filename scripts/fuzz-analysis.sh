#!/usr/bin/env bash
# Builds the libFuzzer target for the trace analyses (Fuzz/AnalysisFuzz.swift:
# summary passes, text/JSON/HTML output, Chrome/CSV/JSONL exporters, windows,
# diff; with BinaryIO, XenTrace, JSONPull and XenTraceAnalysis compiled in, instrumented,
# under ASan) and runs it for a bounded time.
# Usage: scripts/fuzz-analysis.sh [SECONDS]   (default 60)
# Seeds: Fuzz/analysis-seeds and the crash replay corpus
# Tests/XenTraceAnalysisTests/Corpus (copy new findings from
# .build-fuzz/analysis/artifacts/ there; the tests replay them).
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-60}"
B=.build-fuzz/analysis
mkdir -p "$B/corpus" "$B/artifacts"
fuzz_build "$B" "$B/fuzz-analysis" Fuzz/AnalysisFuzz.swift BinaryIO XenTrace JSONPull XenTraceAnalysis
fuzz_run "the trace analyses" "$B/fuzz-analysis" "$secs" 16384 "$B/artifacts/" 12 \
  "$B/corpus" Fuzz/analysis-seeds Tests/XenTraceAnalysisTests/Corpus

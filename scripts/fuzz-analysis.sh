#!/usr/bin/env bash
# Builds the libFuzzer target for the trace analyses (Fuzz/AnalysisFuzz.swift:
# summary passes, text/JSON/HTML output, Chrome/CSV/JSONL exporters, windows,
# diff; with BinaryIO, XenTrace and XenTraceAnalysis compiled in, instrumented,
# under ASan) and runs it for a bounded time.
# Usage: scripts/fuzz-analysis.sh [SECONDS]   (default 60)
# Seeds: Fuzz/analysis-seeds and the crash replay corpus
# Tests/XenTraceAnalysisTests/Corpus (copy new findings from
# .build-fuzz/analysis/artifacts/ there; the tests replay them).
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-60}"
B=.build-fuzz/analysis
mkdir -p "$B/corpus" "$B/artifacts"
fuzz_modules "$B" BinaryIO XenTrace XenTraceAnalysis
fuzz_link "$B" "$B/fuzz-analysis" Fuzz/AnalysisFuzz.swift BinaryIO XenTrace XenTraceAnalysis
echo "fuzzing the trace analyses for ${secs}s"
"$B/fuzz-analysis" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout=10 -rss_limit_mb=4096 -max_len=16384 \
  -artifact_prefix="$B/artifacts/" "$B/corpus" Fuzz/analysis-seeds Tests/XenTraceAnalysisTests/Corpus 2>&1 | tail -n 12

#!/usr/bin/env bash
# Builds the libFuzzer target for the trace reader (Fuzz/TraceReaderFuzz.swift,
# with BinaryIO and XenTrace compiled in, instrumented, under ASan) and runs it
# for a bounded time. Usage: scripts/fuzz-trace.sh [SECONDS]   (default 60)
# New crashing inputs land in .build-fuzz/artifacts/; copy them into
# Tests/XenTraceTests/Corpus/ so the tests replay them for ever.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v swiftc >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
B=.build-fuzz
mkdir -p "$B/corpus" "$B/artifacts"
inc=(-I Sources/CZlib -I Sources/CLZMA -I Sources/CZstd -I "$B")
flags=(-O -wmo -parse-as-library -sanitize=fuzzer,address -swift-version 6)
swiftc "${flags[@]}" "${inc[@]}" -module-name BinaryIO -emit-module -emit-module-path "$B/BinaryIO.swiftmodule" \
  -c Sources/BinaryIO/*.swift -o "$B/BinaryIO.o"
swiftc "${flags[@]}" "${inc[@]}" -module-name XenTrace -emit-module -emit-module-path "$B/XenTrace.swiftmodule" \
  -c Sources/XenTrace/*.swift -o "$B/XenTrace.o"
swiftc "${flags[@]}" "${inc[@]}" Fuzz/TraceReaderFuzz.swift "$B/BinaryIO.o" "$B/XenTrace.o" \
  -lz -llzma -lzstd -o "$B/fuzz-trace"
echo "fuzzing the trace reader for ${secs}s"
"$B/fuzz-trace" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
  -artifact_prefix="$B/artifacts/" "$B/corpus" Fuzz/seeds Tests/XenTraceTests/Corpus 2>&1 | tail -n 25

#!/usr/bin/env bash
# Builds the libFuzzer target for the formats engine (Fuzz/FormatsFuzz.swift,
# with BinaryIO, XenTrace and XenTraceFormats compiled in, instrumented, under
# ASan) and runs it for a bounded time. Usage: scripts/fuzz-formats.sh [SECONDS]
# New crashing inputs land in .build-fuzz/formats-artifacts/; copy them into
# Fuzz/formats-seeds/ so every later run starts from them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v swiftc >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
B=.build-fuzz/formats
mkdir -p "$B/corpus" "$B/../formats-artifacts"
inc=(-I Sources/CZlib -I Sources/CLZMA -I Sources/CZstd -I "$B")
flags=(-O -wmo -parse-as-library -sanitize=fuzzer,address -swift-version 6)
swiftc "${flags[@]}" "${inc[@]}" -module-name BinaryIO -emit-module -emit-module-path "$B/BinaryIO.swiftmodule" \
  -c Sources/BinaryIO/*.swift -o "$B/BinaryIO.o"
swiftc "${flags[@]}" "${inc[@]}" -module-name XenTrace -emit-module -emit-module-path "$B/XenTrace.swiftmodule" \
  -c Sources/XenTrace/*.swift -o "$B/XenTrace.o"
swiftc "${flags[@]}" "${inc[@]}" -module-name XenTraceFormats -emit-module -emit-module-path "$B/XenTraceFormats.swiftmodule" \
  -c Sources/XenTraceFormats/*.swift -o "$B/XenTraceFormats.o"
swiftc "${flags[@]}" "${inc[@]}" Fuzz/FormatsFuzz.swift "$B/BinaryIO.o" "$B/XenTrace.o" "$B/XenTraceFormats.o" \
  -lz -llzma -lzstd -o "$B/fuzz-formats"
echo "fuzzing the formats engine for ${secs}s"
"$B/fuzz-formats" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout=10 -rss_limit_mb=4096 -max_len=4096 \
  -artifact_prefix="$B/../formats-artifacts/" "$B/corpus" Fuzz/formats-seeds 2>&1 | tail -n 12

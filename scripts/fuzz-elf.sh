#!/usr/bin/env bash
# Builds the libFuzzer target for the ELF loader (Fuzz/ELFLoaderFuzz.swift,
# with BinaryIO and ELF compiled in, instrumented, under ASan) and runs it for
# a bounded time. Seeds are compiled here from Tests/Fixtures (no binaries in git).
# Usage: scripts/fuzz-elf.sh [SECONDS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
command -v swiftc >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
B=.build-fuzz/elf
mkdir -p "$B/corpus" "$B/artifacts"
inc=(-I Sources/CZlib -I Sources/CLZMA -I Sources/CZstd -I "$B")
flags=(-O -wmo -parse-as-library -sanitize=fuzzer,address -swift-version 6)
swiftc "${flags[@]}" "${inc[@]}" -module-name BinaryIO -emit-module -emit-module-path "$B/BinaryIO.swiftmodule" \
  -c Sources/BinaryIO/*.swift -o "$B/BinaryIO.o"
swiftc "${flags[@]}" "${inc[@]}" -module-name ELF -emit-module -emit-module-path "$B/ELF.swiftmodule" \
  -c Sources/ELF/*.swift -o "$B/ELF.o"
swiftc "${flags[@]}" "${inc[@]}" Fuzz/ELFLoaderFuzz.swift "$B/BinaryIO.o" "$B/ELF.o" \
  -lz -llzma -lzstd -o "$B/fuzz-elf"
# Seeds: a small executable, an object file and a truncated copy.
cc -O1 Tests/Fixtures/elf/hello.c -o "$B/corpus/hello"
cc -O1 -c Tests/Fixtures/elf/hello.c -o "$B/corpus/hello.o"
head -c 700 "$B/corpus/hello" > "$B/corpus/hello-cut"
echo "fuzzing the ELF loader for ${secs}s"
"$B/fuzz-elf" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
  -artifact_prefix="$B/artifacts/" "$B/corpus" 2>&1 | tail -n 8

# Shared build steps of the libFuzzer scripts (scripts/fuzz-*.sh source it):
# swiftc on the PATH, the instrumentation flags, and helpers that compile
# library modules and link a target against them. Every object is built with
# -sanitize=fuzzer,address, -O and whole-module optimisation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v swiftc >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
export SWIFT_BACKTRACE=enable=no   # let libFuzzer report crashes itself
fuzz_flags=(-O -wmo -parse-as-library -sanitize=fuzzer,address -swift-version 6)
fuzz_inc=(-I Sources/CZlib -I Sources/CLZMA -I Sources/CZstd -I Sources/CLZO -I Sources/CSnappy)
# Libraries beyond zlib/lzma/zstd a script's modules need (set before fuzz_link).
fuzz_extra_libs=()

# fuzz_modules DIR MODULE...: Sources/MODULE/*.swift → DIR/MODULE.o and its
# .swiftmodule, in the order given (dependencies first).
fuzz_modules() {
  local dir=$1 m; shift
  mkdir -p "$dir"
  for m in "$@"; do
    swiftc "${fuzz_flags[@]}" "${fuzz_inc[@]}" -I "$dir" \
      -module-name "$m" -emit-module -emit-module-path "$dir/$m.swiftmodule" \
      -c Sources/"$m"/*.swift -o "$dir/$m.o"
  done
}

# fuzz_link DIR OUT TARGET.swift MODULE...: links a fuzz target with the
# modules fuzz_modules built in DIR (and the compression libraries).
fuzz_link() {
  local dir=$1 out=$2 src=$3 m objs=(); shift 3
  for m in "$@"; do objs+=("$dir/$m.o"); done
  swiftc "${fuzz_flags[@]}" "${fuzz_inc[@]}" -I "$dir" \
    "$src" "${objs[@]}" -lz -llzma -lzstd "${fuzz_extra_libs[@]}" -o "$out"
}

# fuzz_build DIR OUT TARGET.swift MODULE...: fuzz_modules, then fuzz_link.
fuzz_build() {
  local dir=$1 out=$2 src=$3; shift 3
  fuzz_modules "$dir" "$@"
  fuzz_link "$dir" "$out" "$src" "$@"
}

# fuzz_run WHAT BIN SECONDS MAX_LEN ARTIFACT_PREFIX TAIL CORPUS...: runs a
# built fuzz target for SECONDS (plus $FUZZ_ARGS), new crashing inputs
# written under ARTIFACT_PREFIX, and shows the last TAIL lines of its output;
# its exit status is the fuzzer's. Each input may take fuzz_timeout seconds
# (10) and the process fuzz_rss_mb MiB (4096).
fuzz_run() {
  local what=$1 bin=$2 secs=$3 max_len=$4 artifacts=$5 lines=$6; shift 6
  echo "fuzzing $what for ${secs}s"
  "$bin" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout="${fuzz_timeout:-10}" -rss_limit_mb="${fuzz_rss_mb:-4096}" \
    -max_len="$max_len" -artifact_prefix="$artifacts" "$@" 2>&1 | tail -n "$lines"
}

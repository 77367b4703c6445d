#!/usr/bin/env bash
# Builds the libFuzzer target for the gdb remote-protocol engine
# (Fuzz/gdbstub/FuzzGDBRemote.swift with Sources/GDBRemote compiled in, under
# ASan) and runs it for a bounded time. Usage: scripts/fuzz-gdbstub.sh [SECONDS]
# New crashing inputs land in .build-fuzz/gdbstub/artifacts/.
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-60}"
B=.build-fuzz/gdbstub
mkdir -p "$B/corpus" "$B/artifacts"
swiftc "${fuzz_flags[@]}" -module-name GDBRemoteFuzz \
  Sources/GDBRemote/*.swift Fuzz/gdbstub/FuzzGDBRemote.swift -o "$B/fuzz-gdbremote"
echo "fuzzing the gdb remote-protocol engine for ${secs}s"
"$B/fuzz-gdbremote" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout=5 -rss_limit_mb=2048 -max_len=16384 \
  -artifact_prefix="$B/artifacts/" "$B/corpus" Fuzz/gdbstub/corpus 2>&1 | tail -n 5

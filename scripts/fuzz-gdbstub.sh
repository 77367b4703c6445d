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
fuzz_timeout=5 fuzz_rss_mb=2048 \
  fuzz_run "the gdb remote-protocol engine" "$B/fuzz-gdbremote" "$secs" 16384 "$B/artifacts/" 5 "$B/corpus" Fuzz/gdbstub/corpus

#!/usr/bin/env bash
# Builds libFuzzer targets for the dump readers (Fuzz/DumpNotesFuzz.swift,
# Fuzz/KdumpFuzz.swift, Fuzz/XenCoreFuzz.swift, with BinaryIO, ELF and Dump
# compiled in, instrumented, under ASan) and runs each for a bounded time.
# Seeds are cut from real QEMU dumps of the panicker guest (the ones the test
# run left in .build/panicker-dumps, else made here).
# Usage: scripts/fuzz-dump.sh [SECONDS per target]   (default 60)
# Crashing inputs land in .build-fuzz/dump-artifacts/ and fail the run.
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-60}"
B=.build-fuzz
S="$B/dump-seeds"
mkdir -p "$B/dump-artifacts" "$S"
dumps=.build/panicker-dumps
if [ ! -f "$dumps/dump.kdump" ]; then
  dumps="$B/panicker"
  if [ ! -f "$dumps/dump.kdump" ]; then
    samples/guests/panicker/build.sh "$dumps" >/dev/null
    python3 samples/guests/panicker/run.py "$dumps"
  fi
fi
mkdir -p "$S/notes" "$S/kdump" "$S/xc" "$B/corpus-notes" "$B/corpus-kdump" "$B/corpus-xc"
head -c 2048 "$dumps/dump.elf" > "$S/notes/qemu-elf-head"
# kdump seeds stay small (~20 KB): every input is written to /dev/shm, hashed
# and mutated whole, so 300 KB seeds made a run ~10x slower per input without
# reaching more code. The QEMU dump's flattened head (header, sub-header,
# notes, part of the bitmap), then plain files whose 16 pages are
# zlib/lzo/snappy/zstd (makedumpfile -R, then kdump_recode.py keeping the
# first 16 pages with the bitmaps shrunk to two blocks), and the zlib one
# re-flattened into 4 KiB records (the reader's record index and gathering).
head -c 24576 "$dumps/dump.kdump" > "$S/kdump/qemu-kdump-head"
[ -f "$dumps/plain.kdump" ] || makedumpfile -R "$dumps/plain.kdump" < "$dumps/dump.kdump" >/dev/null
rm -f "$S/kdump/plain-"*
for c in zlib lzo snappy zstd; do
  KDUMP_PAGES=16 KDUMP_SHRINK=1 python3 samples/guests/panicker/kdump_recode.py "$dumps/plain.kdump" "$S/kdump/plain-$c-16" $c >/dev/null
done
python3 - "$S/kdump/plain-zlib-16" "$S/kdump/flat-zlib-16" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
head = bytearray(4096); head[:12] = b"makedumpfile"; struct.pack_into(">qq", head, 16, 1, 1)
out = [bytes(head)]
for off in range(0, len(data), 4096):
    piece = data[off:off + 4096]
    out.append(struct.pack(">qq", off, len(piece)) + piece)
out.append(struct.pack(">qq", -1, -1))
open(sys.argv[2], "wb").write(b"".join(out))
PY
XC_PAGES=16 python3 samples/guests/panicker/xc_core.py "$dumps/dump.elf" "$S/xc/pv.core" pv
XC_PAGES=16 python3 samples/guests/panicker/xc_core.py "$dumps/dump.elf" "$S/xc/hvm.core" hvm
fuzz_extra_libs=(-llzo2 -lsnappy)   # kdump page codecs
fuzz_modules "$B" BinaryIO ELF Dump
status=0
# name:seeds:max_len (xc_core seeds are ~78 KB; kdump and note seeds ≤ 25 KB).
for t in DumpNotes:notes:65536 Kdump:kdump:65536 XenCore:xc:131072; do
  name="${t%%:*}" rest="${t#*:}" seeds="${rest%%:*}" maxlen="${t##*:}"
  fuzz_link "$B" "$B/fuzz-${seeds}" "Fuzz/${name}Fuzz.swift" BinaryIO ELF Dump
  fuzz_run "$name" "$B/fuzz-${seeds}" "$secs" "$maxlen" "$B/dump-artifacts/${seeds}-" 3 "$B/corpus-${seeds}" "$S/${seeds}" || status=1
done
if ls "$B"/dump-artifacts/* >/dev/null 2>&1; then echo "fuzz findings in $B/dump-artifacts:"; ls "$B/dump-artifacts"; exit 1; fi
exit $status

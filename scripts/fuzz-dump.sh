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
head -c 300000 "$dumps/dump.kdump" > "$S/kdump/qemu-kdump-head"
# Plain kdump files whose pages are lzo, snappy, zstd (makedumpfile -R, then
# kdump_recode.py keeping the first 48 pages: header, bitmaps, descriptors and
# page data of each codec in ~290 KB).
[ -f "$dumps/plain.kdump" ] || makedumpfile -R "$dumps/plain.kdump" < "$dumps/dump.kdump" >/dev/null
for c in lzo snappy zstd; do
  KDUMP_PAGES=48 python3 samples/guests/panicker/kdump_recode.py "$dumps/plain.kdump" "$S/kdump/plain-$c-48" $c >/dev/null
done
rm -f "$S/kdump/plain-"*-head
XC_PAGES=16 python3 samples/guests/panicker/xc_core.py "$dumps/dump.elf" "$S/xc/pv.core" pv
XC_PAGES=16 python3 samples/guests/panicker/xc_core.py "$dumps/dump.elf" "$S/xc/hvm.core" hvm
fuzz_extra_libs=(-llzo2 -lsnappy)   # kdump page codecs
fuzz_modules "$B" BinaryIO ELF Dump
status=0
for t in DumpNotes:notes Kdump:kdump XenCore:xc; do
  name="${t%%:*}" seeds="${t##*:}"
  fuzz_link "$B" "$B/fuzz-${seeds}" "Fuzz/${name}Fuzz.swift" BinaryIO ELF Dump
  echo "fuzzing ${name} for ${secs}s"
  "$B/fuzz-${seeds}" -max_total_time="$secs" ${FUZZ_ARGS:-} -timeout=10 -rss_limit_mb=4096 -max_len=400000 \
    -artifact_prefix="$B/dump-artifacts/${seeds}-" "$B/corpus-${seeds}" "$S/${seeds}" 2>&1 | tail -n 3 || status=1
done
if ls "$B"/dump-artifacts/* >/dev/null 2>&1; then echo "fuzz findings in $B/dump-artifacts:"; ls "$B/dump-artifacts"; exit 1; fi
exit $status

#!/usr/bin/env bash
# Builds the libFuzzer target for the symbolizer's inputs (Fuzz/SymbolizerFuzz.swift
# with BinaryIO, ELF and DWARF compiled in, instrumented, under ASan; libdw and
# libelf linked as they are) and runs it for a bounded time. Seeds are
# compiled here: a small program with DWARF 5 (lines, an inlined function, a
# struct), the same with DWARF 4 and -g1, and a copy cut inside .debug_info.
# Usage: scripts/fuzz-dwarf.sh [SECONDS]   (default 30)
# Crashing inputs land in .build-fuzz/dwarf/artifacts/ and fail the run.
source "$(dirname "$0")/fuzz-common.sh"
secs="${1:-30}"
B=.build-fuzz/dwarf
mkdir -p "$B/corpus" "$B/artifacts" "$B/seeds"
fuzz_inc+=(-I Sources/CElfUtils)
fuzz_extra_libs=(-ldw -lelf)
fuzz_build "$B" "$B/fuzz-dwarf" Fuzz/SymbolizerFuzz.swift BinaryIO ELF DWARF
cat > "$B/seed.c" <<'C'
struct point { int x, y; };
static inline int sum(const struct point *p) { return p->x + p->y; }
struct point origin = { 1, 2 };
int main(int argc, char **argv) { (void)argv; origin.x += argc; return sum(&origin); }
C
cc -O2 -g -gdwarf-5 "$B/seed.c" -o "$B/seeds/dwarf5"
cc -O1 -g -gdwarf-4 "$B/seed.c" -o "$B/seeds/dwarf4"
cc -O2 -g1 "$B/seed.c" -o "$B/seeds/g1"
head -c 14000 "$B/seeds/dwarf5" > "$B/seeds/dwarf5-cut"
status=0
fuzz_run "the symbolizer inputs" "$B/fuzz-dwarf" "$secs" 65536 "$B/artifacts/" 8 "$B/corpus" "$B/seeds" || status=1
if ls "$B"/artifacts/* >/dev/null 2>&1; then echo "fuzz findings in $B/artifacts:"; ls "$B/artifacts"; exit 1; fi
exit $status

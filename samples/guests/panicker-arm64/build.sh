#!/usr/bin/env bash
# Builds the arm64 panicker guest: OUT/kernel.elf (DWARF, linked at the
# higher half, loaded at 0x40080000; qemu-system-aarch64 -kernel boots it).
# Needs gcc-aarch64-linux-gnu (scripts/install-deps.sh).
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUTDIR}"
mkdir -p "$out"
cc=aarch64-linux-gnu-gcc
cflags=(-g -O1 -ffreestanding -nostdlib -fno-pic -fno-pie -mgeneral-regs-only
        -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-optimize-sibling-calls
        -fno-stack-protector -fasynchronous-unwind-tables -Wall -Wextra -Werror ${EXTRA_CFLAGS:-})
$cc "${cflags[@]}" -c "$src/boot.S" -o "$out/boot.o"
$cc "${cflags[@]}" -c "$src/kernel.c" -o "$out/kernel.o"
aarch64-linux-gnu-ld -n -nostdlib --no-warn-rwx-segments -z max-page-size=0x1000 --build-id=sha1 -T "$src/link.ld" \
   -o "$out/kernel.elf" "$out/boot.o" "$out/kernel.o"

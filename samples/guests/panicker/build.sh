#!/usr/bin/env bash
# Builds the panicker test guest: OUT/kernel.elf (with DWARF, for symbols) and
# OUT/kernel.bin (flat image with a multiboot header, for qemu -kernel).
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUTDIR}"
mkdir -p "$out"
cflags=(-g -O1 -ffreestanding -nostdlib -fno-pic -fno-pie -mno-red-zone -mcmodel=kernel
        -mno-sse -mno-mmx -mno-80387 -fno-omit-frame-pointer -fno-optimize-sibling-calls
        -fno-stack-protector -fasynchronous-unwind-tables -Wall -Wextra -Werror ${EXTRA_CFLAGS:-})
gcc "${cflags[@]}" -c "$src/boot.S" -o "$out/boot.o"
gcc "${cflags[@]}" -c "$src/kernel.c" -o "$out/kernel.o"
ld -n -nostdlib --no-warn-rwx-segments -z max-page-size=0x1000 --build-id=sha1 -T "$src/link.ld" \
   -o "$out/kernel.elf" "$out/boot.o" "$out/kernel.o"
objcopy -O binary "$out/kernel.elf" "$out/kernel.bin"

#!/usr/bin/env bash
# Writes DIR/dump-lzo.kdump: the Linux test guest's QEMU ELF dump (with paging)
# converted by Debian's makedumpfile -l (lzo pages, dump level 0, symbols from
# DIR/vmlinux), cached beside the dumps (remade when the ELF dump is newer).
# Prints the file's path.
# makedumpfile 1.7.2 reads the program headers right after the ELF header (it
# ignores e_phoff) while QEMU writes its section header table first: the copy
# it is fed has the two tables swapped (same total size, so no other offset
# moves) and is removed afterwards.
# Usage: scripts/makedumpfile-lzo.sh DIR   (DIR from samples/guests/linux/make-dumps.sh)
set -euo pipefail
dir="${1:?usage: makedumpfile-lzo.sh DIR}"
out="$dir/dump-lzo.kdump"
if [ -s "$out" ] && [ "$out" -nt "$dir/dump-paging.elf" ]; then echo "$out"; exit 0; fi
command -v makedumpfile >/dev/null || { echo "makedumpfile-lzo.sh: makedumpfile missing (scripts/install-deps.sh)" >&2; exit 1; }
tmp="$(mktemp -d "${TMPDIR:-/tmp}/xenscope-makedumpfile.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
python3 - "$dir/dump-paging.elf" "$tmp/dump.elf" <<'EOF'
import shutil, struct, sys
src, out = sys.argv[1], sys.argv[2]
shutil.copyfile(src, out)
with open(out, "r+b") as f:
    eh = bytearray(f.read(64))
    phoff, shoff = struct.unpack_from("<QQ", eh, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", eh, 54)
    if phnum == 0xffff:                      # PN_XNUM: the count is in section 0's sh_info
        f.seek(shoff)
        phnum = struct.unpack_from("<I", f.read(64), 44)[0]
    if phoff == 64:
        sys.exit(0)                          # already laid out as makedumpfile expects
    assert shoff == 64 and phoff == 64 + shnum * shentsize, f"unexpected layout: e_phoff {phoff}, e_shoff {shoff}"
    f.seek(64)
    shdrs = f.read(shnum * shentsize)
    phdrs = f.read(phnum * phentsize)
    f.seek(64); f.write(phdrs); f.write(shdrs)
    struct.pack_into("<QQ", eh, 32, 64, 64 + len(phdrs))
    f.seek(0); f.write(eh)
EOF
makedumpfile -l -d 0 -x "$dir/vmlinux" "$tmp/dump.elf" "$tmp/out.kdump" > "$tmp/log" 2>&1 \
  || { tr '\r' '\n' < "$tmp/log" | grep -v '^Copying\|^Excluding\|^Checking' >&2; exit 1; }
mv "$tmp/out.kdump" "$out"
echo "$out"

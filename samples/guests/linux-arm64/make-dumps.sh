#!/usr/bin/env bash
# Makes the arm64 Linux test guest's dumps, once, into the cache folder
# outside the clone, and prints that folder:
#   $XENSCOPE_CACHE/linux-guest-arm64/<kernel-version>/
#     vmlinux      Debian's debug vmlinux (only this file of linux-image-<ver>-dbg
#                  is kept; the ~800 MB .deb is deleted)
#     vmlinuz      the kernel booted (from the arm64 lab's unpacked packages)
#     initrd.img   busybox-static (arm64) + qemu_fw_cfg.ko + ../linux/init
#     serial.log   the guest's serial console, boot to panic
#     dump.elf     QMP dump-guest-memory, ELF (physical addresses only)
#     dump.kdump   kdump-zlib (makedumpfile's flattened form)
# The kernel and busybox come from lab/arm64/fetch.sh (apt-get download
# NAME:arm64, cached; arm64 added to dpkg's foreign architectures). A
# finished folder carries .complete (a hash of the scripts) and is reused.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}"
base="$cache/linux-guest-arm64"
mkdir -p "$base"
# One maker at a time (worktrees and test processes share the cache).
exec 9>"$base/.lock"
flock 9
stamp="$(cat "$here/make-dumps.sh" "$here/run.py" "$here/../linux/init" "$here/../qemu_guest.py" | sha256sum | cut -c1-16)"
for d in "$base"/*/; do
  [ -f "$d.complete" ] && [ "$(cat "$d.complete")" = "$stamp" ] && { echo "${d%/}"; exit 0; }
done

root="$("$repo/lab/arm64/fetch.sh" | tail -n 1)"
kpkg="$(cat "$root/.kernel-package")"
kver="${kpkg#linux-image-}"
out="$base/$kver"
mkdir -p "$out"
rm -f "$out/.complete"
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"

if [ ! -s "$out/vmlinux" ]; then
  dbg="$kpkg-dbg"
  ( cd "$out" && rm -f "$dbg"_*.deb && { apt-get download "$dbg:arm64" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$dbg:arm64" >&2; }; } )
  dpkg-deb --fsys-tarfile "$out/$dbg"_*.deb | tar -xO "./usr/lib/debug/boot/vmlinux-$kver" > "$out/vmlinux.tmp"
  rm -f "$out/$dbg"_*.deb
  mv "$out/vmlinux.tmp" "$out/vmlinux"
fi

r="$out/initrd.root"; rm -rf "$r"; mkdir -p "$r"/{bin,proc,sys,dev}
cp "$root/bin/busybox" "$r/bin/busybox"
cp "$root/lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko" "$r/"
install -m 0755 "$here/../linux/init" "$r/init"
( cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 ) > "$out/initrd.img"
rm -rf "$r"

timeout 900 python3 "$here/run.py" "$out" "$out/vmlinuz" "$out/initrd.img" >&2
grep -q "Kernel panic - not syncing" "$out/serial.log"
for f in dump.elf dump.kdump; do [ -s "$out/$f" ] || { echo "make-dumps.sh: $f missing" >&2; exit 1; }; done
echo "$stamp" > "$out/.complete"
echo "$out"

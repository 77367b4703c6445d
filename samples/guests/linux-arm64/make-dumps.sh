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
source "$here/../dumps-lib.sh"
lock_cache "$base"
stamp="$(cat "$here/make-dumps.sh" "$here/run.py" "$here/../linux/init" "$here/../qemu_guest.py" "$here/../dumps-lib.sh" | sha256sum | cut -c1-16)"
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

debug_vmlinux "$out" "$kpkg-dbg:arm64" "$kver"
guest_initrd "$out" "$root/bin/busybox" "$root/lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko" "$here/../linux/init"

boot_and_dump "$here/run.py" "$out" "$stamp" dump.elf dump.kdump

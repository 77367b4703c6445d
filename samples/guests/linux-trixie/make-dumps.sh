#!/usr/bin/env bash
# Makes the Debian trixie (Linux 6.12) test guest's dumps, once, into the
# cache folder outside the clone, and prints that folder:
#   $XENSCOPE_CACHE/linux-guest-trixie/<kernel-version>/
#     vmlinux          the debug vmlinux (only this file is kept of the
#                      ~1 GB linux-image-<ver>-dbg .deb)
#     vmlinuz          the kernel booted (from linux-image-<ver>)
#     qemu_fw_cfg.ko   the module that fills QEMU's -device vmcoreinfo
#     threads          a static multi-threaded program (threads.c)
#     initrd.img       busybox-static + threads + /init (this folder's init)
#     serial.log       the guest's serial console, boot to panic
#     dump.elf         QMP dump-guest-memory, ELF, physical addresses only
#     dump.kdump       kdump-zlib (makedumpfile's flattened form)
# The packages come from deb.debian.org's trixie through a private apt
# configuration in $XENSCOPE_CACHE/trixie-apt (the host's apt is untouched);
# the kernel is the one trixie's linux-image-amd64 names, or
# LINUX_TRIXIE_KERNEL=6.12.NN+deb13-amd64. A finished folder carries
# .complete (holding `stamp` below) and is reused; anything else is redone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}"
base="$cache/linux-guest-trixie"
apt_dir="$cache/trixie-apt"
source "$here/../dumps-lib.sh"
lock_cache "$base"
# Bump when what the dumps contain changes (init, threads.c, QEMU options, the dump list).
stamp="linux-guest-trixie-v1"
done_ok() { [ -f "$1/.complete" ] && [ "$(cat "$1/.complete")" = "$stamp" ]; }
# Any finished folder is reused (a newer trixie kernel does not force a 1 GB download).
if [ -z "${LINUX_TRIXIE_KERNEL:-}" ]; then
  for d in "$base"/*/; do
    done_ok "${d%/}" && { echo "${d%/}"; exit 0; }
  done
fi

kernel_pkg() { trixie_apt "$apt_dir" apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
# An index fetched over a week ago may name a kernel the mirror has dropped:
# refresh it first (apt dates the list files by the archive, so a stamp of our own).
if [ -z "$(find "$apt_dir/updated" -mtime -7 2>/dev/null)" ]; then
  trixie_apt "$apt_dir" apt-get update -qq && touch "$apt_dir/updated"
fi
if [ -n "${LINUX_TRIXIE_KERNEL:-}" ]; then kpkg="linux-image-$LINUX_TRIXIE_KERNEL"; else kpkg="$(kernel_pkg)"; fi
[ -n "$kpkg" ] || { echo "make-dumps.sh: cannot resolve trixie's kernel package from linux-image-amd64" >&2; exit 1; }
kver="${kpkg#linux-image-}"
out="$base/$kver"
mkdir -p "$out"
done_ok "$out" && { echo "$out"; exit 0; }
rm -f "$out/.complete"

# get PACKAGE: its .deb into $out (the index is refreshed once if the mirror moved on).
get() {
  ( cd "$out" && rm -f "$1"_*.deb && { trixie_apt "$apt_dir" apt-get download -qq "$1" >/dev/null 2>&1 ||
      { trixie_apt "$apt_dir" apt-get update -qq && trixie_apt "$apt_dir" apt-get download -qq "$1" >&2; }; } )
  compgen -G "$out/$1_*.deb" | head -1
}

# The kernel image and qemu_fw_cfg.ko (xz-compressed in trixie; busybox's insmod takes it plain).
if [ ! -s "$out/vmlinuz" ] || [ ! -s "$out/qemu_fw_cfg.ko" ]; then
  deb="$(get "$kpkg")"
  tmp="$out/deb.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./boot/vmlinuz-$kver" \
    "./usr/lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko.xz"
  xz -dc "$tmp/usr/lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko.xz" > "$out/qemu_fw_cfg.ko"
  mv "$tmp/boot/vmlinuz-$kver" "$out/vmlinuz"
  rm -rf "$tmp" "$deb"
fi

# The debug vmlinux: only usr/lib/debug/boot/vmlinux-* out of the -dbg .deb,
# which is deleted afterwards.
if [ ! -s "$out/vmlinux" ]; then
  deb="$(get "$kpkg-dbg")"
  deb_member "$deb" "usr/lib/debug/boot/vmlinux-$kver" "$out/vmlinux.tmp"
  rm -f "$deb"
  mv "$out/vmlinux.tmp" "$out/vmlinux"
fi

# The multi-threaded guest program, static (no libc in the initramfs).
gcc -O1 -static -pthread -o "$out/threads" "$here/threads.c"

bb=/bin/busybox
[ -x "$bb" ] || { echo "make-dumps.sh: busybox-static is not installed (scripts/install-deps.sh)" >&2; exit 1; }
guest_initrd "$out" "$bb" "$out/qemu_fw_cfg.ko" "$here/init" "$out/threads"

boot_and_dump "$here/run.py" "$out" "$stamp" dump.elf dump.kdump

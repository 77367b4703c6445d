#!/usr/bin/env bash
# Makes the Linux test guest's dumps, once, into the cache folder outside the
# clone, and prints that folder:
#   $XENSCOPE_CACHE/linux-guest/<kernel-version>/
#     vmlinux          Debian's debug vmlinux (from linux-image-<ver>-dbg; only
#                      this file is kept, the 858 MB .deb is deleted)
#     vmlinuz          the kernel booted (from linux-image-<ver>)
#     qemu_fw_cfg.ko   the module that fills QEMU's -device vmcoreinfo
#     initrd.img       busybox-static + /init (samples/guests/linux/init)
#     serial.log       the guest's serial console, boot to panic
#     dump.elf         QMP dump-guest-memory, ELF, physical addresses only
#     dump-paging.elf  ELF with paging (one PT_LOAD per mapping: PN_XNUM)
#     dump.kdump       kdump-zlib (makedumpfile's flattened form)
# The kernel is the one linux-image-amd64 names (as lab/fetch.sh resolves it),
# or LINUX_GUEST_KERNEL=6.1.0-NN-amd64. A finished folder carries .complete
# (holding the dumps' version, `stamp` below) and is reused; anything else
# is redone. Booting + three dumps take about a minute under QEMU TCG.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}"
base="$cache/linux-guest"
source "$here/../dumps-lib.sh"
lock_cache "$base"
# Bump when what the dumps contain changes (init, QEMU options, the dump list);
# not a hash of these files, so clones at other commits do not remake each other's dumps.
stamp="linux-guest-v1"
# Earlier scripts wrote a 16-hex-digit hash of themselves, for the same dumps.
done_ok() { [ -f "$1/.complete" ] && { c="$(cat "$1/.complete")"; [ "$c" = "$stamp" ] || [[ "$c" =~ ^[0-9a-f]{16}$ ]]; }; }
# Reuse any finished folder made by these scripts (a newer Debian kernel in the
# archive does not force a 1 GB re-download).
if [ -z "${LINUX_GUEST_KERNEL:-}" ]; then
  for d in "$base"/*/; do
    done_ok "${d%/}" && { echo "${d%/}"; exit 0; }
  done
fi

kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
if [ -n "${LINUX_GUEST_KERNEL:-}" ]; then kpkg="linux-image-$LINUX_GUEST_KERNEL"; else
  kpkg="$(kernel_pkg)"
  if [ -z "$kpkg" ]; then apt-get update -qq; kpkg="$(kernel_pkg)"; fi
fi
[ -n "$kpkg" ] || { echo "make-dumps.sh: cannot resolve the kernel package from linux-image-amd64" >&2; exit 1; }
kver="${kpkg#linux-image-}"
out="$base/$kver"
mkdir -p "$out"
done_ok "$out" && { echo "$out"; exit 0; }
rm -f "$out/.complete"

# The kernel image and qemu_fw_cfg.ko (the lab's download is reused when there).
if [ ! -s "$out/vmlinuz" ] || [ ! -s "$out/qemu_fw_cfg.ko" ]; then
  deb="$(compgen -G "$cache/lab/debs/${kpkg}_*.deb" | head -1 || true)"
  tmp="$out/deb.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  if [ -z "$deb" ]; then
    ( cd "$tmp" && { apt-get download "$kpkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$kpkg" >&2; }; } )
    deb="$(compgen -G "$tmp/${kpkg}_*.deb" | head -1)"
  fi
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./boot/vmlinuz-$kver" \
    "./lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko"
  mv "$tmp/boot/vmlinuz-$kver" "$out/vmlinuz"
  mv "$tmp/lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko" "$out/qemu_fw_cfg.ko"
  rm -rf "$tmp"
fi

# The debug vmlinux: only usr/lib/debug/boot/vmlinux-* out of the -dbg .deb.
# A copy fetched earlier for the symbolizer benchmark is reused.
if [ ! -s "$out/vmlinux" ]; then
  prev="$cache/symbench/vmlinux-$kver"
  if [ -s "$prev" ]; then ln -f "$prev" "$out/vmlinux" 2>/dev/null || cp "$prev" "$out/vmlinux"
  else debug_vmlinux "$out" "$kpkg-dbg" "$kver"
  fi
fi

# The initramfs: busybox-static (scripts/install-deps.sh) and our /init.
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-dumps.sh: busybox-static is not installed (scripts/install-deps.sh)" >&2; exit 1; }
guest_initrd "$out" "$bb" "$out/qemu_fw_cfg.ko" "$here/init"

boot_and_dump "$here/run.py" "$out" "$stamp" dump.elf dump-paging.elf dump.kdump

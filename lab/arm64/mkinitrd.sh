#!/usr/bin/env bash
# Builds the arm64 lab's two initramfs images from the arm64 packages
# lab/arm64/fetch.sh unpacked:
#   dom0.img  busybox-static userland, the Xen 4.17 arm64 toolstack and its
#             libraries, the dom0 kernel's Xen/virtio modules, the domU kernel
#             + initramfs, the shared scenario scripts (lab/scenarios) and the
#             cross-built dom0-crash helper. No xenscope inside: there is no
#             aarch64 Swift toolchain here, so XenScope reads the results on
#             the host.
#   domU.img  busybox-static and the shared guest /init (lab/domU/init).
# Usage: mkinitrd.sh OUTDIR
# Every dynamic executable's DT_NEEDED libraries are checked inside the image
# (no arm64 ld.so to run here), so a missing library fails here, not in a boot.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; lab="$(dirname "$here")"
out="$1"
root="$("$here/fetch.sh")"
kver="$(sed 's/^linux-image-//' "$root/.kernel-package")"
mkdir -p "$out"
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "arm64/mkinitrd.sh: aarch64-linux-gnu-gcc missing (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 1; }

who=arm64/mkinitrd.sh arch=aarch64-linux-gnu
source "$lab/initrd-lib.sh"

# ---- domU ----
make_domU "$out" "$lab/domU/init"

# ---- dom0 ----
s="$out/dom0-root"
dom0_root
ldconfig -r "$s" 2>/dev/null || true   # the host's ldconfig may not read foreign ELF; the paths above are the defaults anyway
add_modules virtio_mmio virtio_blk xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
add_lab "$out" "$lab/scenarios" "$here/dom0" "$here/dom0/init"
aarch64-linux-gnu-gcc -O2 -static -nostdlib -ffreestanding -o "$s/lab/dom0-crash" "$here/dom0-crash.c"

# Check every executable's DT_NEEDED libraries exist in the image.
# Executables and every shared library in the image (so indirect needs count too).
for b in "${xen_tools[@]}" $(cd "$s" && find lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu -name 'lib*.so*' -type f); do
  for lib in $(readelf -d "$s/$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -e "$s/lib/aarch64-linux-gnu/$lib" ] || [ -e "$s/usr/lib/aarch64-linux-gnu/$lib" ] || [ -e "$s/usr/lib/xen-4.17/lib/$lib" ] \
      || { echo "arm64/mkinitrd.sh: /$b needs $lib, missing from the dom0 image" >&2; exit 1; }
  done
done
check_libgcc
pack_cpio "$s" "$out/dom0.img"
echo "$out/dom0.img"

#!/usr/bin/env bash
# Builds the two initramfs images the lab boots, from the packages fetch.sh
# unpacked and our own xenscope binary:
#   dom0.img  busybox-static userland, Xen 4.17 toolstack + libraries, the dom0
#             kernel's Xen/virtio modules, the domU kernel + initramfs, the
#             scenario scripts, and xenscope with its Swift runtime libraries.
#   domU.img  busybox-static and a tiny /init (a PV/PVH guest with some load).
# Usage: mkinitrd.sh OUTDIR XENSCOPE_BINARY
# Every dynamic executable is checked inside the image with its own ld.so, so a
# missing library fails here, not in a 2-minute boot.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"; xenscope="$2"
root="$("$here/fetch.sh")"
kver="$(sed 's/^linux-image-//' "$root/.kernel-package")"
[ -x "$xenscope" ] || { echo "mkinitrd.sh: no xenscope binary at $xenscope" >&2; exit 1; }
mkdir -p "$out"

who=mkinitrd.sh arch=x86_64-linux-gnu
source "$here/initrd-lib.sh"

# ---- domU ----
# avxcheck (profile gdbavx): ymm0-15 pattern checker, static, built here.
gcc -static -O2 -Wall -o "$out/avxcheck" "$here/domU/avxcheck.c" || { echo "$who: cannot build domU/avxcheck.c (gcc, libc6-dev)" >&2; exit 1; }
make_domU "$out" "$here/domU/init" "$out/avxcheck"

# ---- dom0 ----
s="$out/dom0-root"
dom0_root usr/local/bin
cp -a "$root/lib64" "$s/"
ldconfig -r "$s"
add_modules virtio_pci virtio_blk virtio_console xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
add_lab "$out" "$here/scenarios" "$here/dom0" "$here/dom0/init"

# Our binary and whatever it links from outside the Debian packages (Swift runtime).
install -m 0755 "$xenscope" "$s/usr/local/bin/xenscope"
ldd "$xenscope" | awk '/=> \// {print $3}' | while read -r lib; do
  [ -e "$s$lib" ] || [ -e "$s/lib/x86_64-linux-gnu/$(basename "$lib")" ] || [ -e "$s/usr/lib/x86_64-linux-gnu/$(basename "$lib")" ] \
    || { mkdir -p "$s$(dirname "$lib")"; cp -L "$lib" "$s$lib"; }
done

# Xen's own gdbsx (static) for the live-gdb comparison, when lab/build-gdbsx.sh built it.
gdbsx="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}/lab/gdbsx/gdbsx"
[ ! -x "$gdbsx" ] || install -m 0755 "$gdbsx" "$s/usr/local/bin/gdbsx"

# Check every executable resolves all its libraries inside the image.
for b in usr/local/bin/xenscope "${xen_tools[@]}"; do
  if ! chroot "$s" /lib64/ld-linux-x86-64.so.2 --list "/$b" > "$out/ldd.txt" 2>&1 || grep -q 'not found' "$out/ldd.txt"; then
    echo "mkinitrd.sh: /$b cannot load in the dom0 image:" >&2; cat "$out/ldd.txt" >&2; exit 1
  fi
done
check_libgcc
pack_cpio "$s" "$out/dom0.img"
echo "$out/dom0.img"

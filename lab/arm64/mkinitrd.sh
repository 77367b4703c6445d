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

# ---- domU ----
d="$out/domU-root"; rm -rf "$d"; mkdir -p "$d"/{bin,proc,sys,dev,tmp}
cp "$root/bin/busybox" "$d/bin/busybox"
install -m 0755 "$lab/domU/init" "$d/init"
( cd "$d" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 ) > "$out/domU.img"

# ---- dom0 ----
s="$out/dom0-root"; rm -rf "$s"
mkdir -p "$s"/{bin,sbin,proc,sys,dev,run,tmp,root,results,etc,var/lib/xen,var/log/xen,var/lib/xenstored,lab/modules,usr/bin}
ln -s /run "$s/var/run"          # xl needs /var/run -> /run (xen-lab.md)
cp "$root/bin/busybox" "$s/bin/busybox"
cp -a "$root/lib" "$s/"
rm -rf "$s/lib/modules" "$s/lib/firmware" "$s/lib/systemd" "$s/lib/udev"
mkdir -p "$s/usr/lib"
cp -a "$root/usr/lib/aarch64-linux-gnu" "$root/usr/lib/xen-4.17" "$s/usr/lib/"
rm -rf "$s/usr/lib/aarch64-linux-gnu/gconv"
cp -a "$root"/usr/bin/xenstore* "$s/usr/bin/"
cp -a "$root/etc/xen" "$s/etc/"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$s/etc/passwd"
printf 'root:x:0:\n' > "$s/etc/group"
printf '/lib/aarch64-linux-gnu\n/usr/lib/aarch64-linux-gnu\n' > "$s/etc/ld.so.conf"
ldconfig -r "$s" 2>/dev/null || true   # the host's ldconfig may not read foreign ELF; the paths above are the defaults anyway

# Kernel modules, each after the modules its depends= field names.
add_module() {
  local m="$1" f dep
  grep -qx "$m.ko" "$s/lab/modules.order" && return 0
  f="$(find "$root/lib/modules/$kver/kernel" -name "$m.ko" | head -1)"
  [ -n "$f" ] || { echo "arm64/mkinitrd.sh: module $m not found in $kver" >&2; exit 1; }
  for dep in $(grep -a -o 'depends=[^[:cntrl:]]*' "$f" | head -1 | sed 's/^depends=//; s/,/ /g'); do add_module "$dep"; done
  cp "$f" "$s/lab/modules/"; echo "$m.ko" >> "$s/lab/modules.order"
}
: > "$s/lab/modules.order"
for m in virtio_mmio virtio_blk xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do add_module "$m"; done

# The guest: the same Debian arm64 kernel, busybox initramfs.
cp "$root/boot/vmlinuz-$kver" "$s/lab/vmlinuz"
cp "$out/domU.img" "$s/lab/domU.img"
cp "$lab"/scenarios/*.sh "$here"/dom0/*.cfg "$s/lab/"
install -m 0755 "$here/dom0/init" "$s/init"
aarch64-linux-gnu-gcc -O2 -static -nostdlib -ffreestanding -o "$s/lab/dom0-crash" "$here/dom0-crash.c"

# Check every executable's DT_NEEDED libraries exist in the image.
# Executables and every shared library in the image (so indirect needs count too).
for b in usr/lib/xen-4.17/bin/{xl,xentrace,xenstored,xenconsoled,xen-init-dom0,xenctx} usr/bin/xenstore \
    $(cd "$s" && find lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu -name 'lib*.so*' -type f); do
  for lib in $(readelf -d "$s/$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -e "$s/lib/aarch64-linux-gnu/$lib" ] || [ -e "$s/usr/lib/aarch64-linux-gnu/$lib" ] || [ -e "$s/usr/lib/xen-4.17/lib/$lib" ] \
      || { echo "arm64/mkinitrd.sh: /$b needs $lib, missing from the dom0 image" >&2; exit 1; }
  done
done
# glibc dlopens libgcc_s for thread cancellation (not in DT_NEEDED); xl aborts without it.
[ -e "$s/lib/aarch64-linux-gnu/libgcc_s.so.1" ] || { echo "arm64/mkinitrd.sh: libgcc_s.so.1 missing" >&2; exit 1; }
( cd "$s" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 ) > "$out/dom0.img"
echo "$out/dom0.img"

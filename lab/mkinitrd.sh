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

# ---- domU ----
d="$out/domU-root"; rm -rf "$d"; mkdir -p "$d"/{bin,proc,sys,dev,tmp}
cp "$root/bin/busybox" "$d/bin/busybox"
install -m 0755 "$here/domU/init" "$d/init"
( cd "$d" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 ) > "$out/domU.img"

# ---- dom0 ----
s="$out/dom0-root"; rm -rf "$s"
mkdir -p "$s"/{bin,sbin,proc,sys,dev,run,tmp,root,results,etc,var/lib/xen,var/log/xen,var/lib/xenstored,lab/modules,usr/bin,usr/local/bin}
ln -s /run "$s/var/run"          # xl needs /var/run -> /run (xen-lab.md)
cp "$root/bin/busybox" "$s/bin/busybox"
cp -a "$root/lib" "$root/lib64" "$s/"
rm -rf "$s/lib/modules" "$s/lib/firmware" "$s/lib/systemd" "$s/lib/udev"
mkdir -p "$s/usr/lib"
cp -a "$root/usr/lib/x86_64-linux-gnu" "$root/usr/lib/xen-4.17" "$s/usr/lib/"
rm -rf "$s/usr/lib/x86_64-linux-gnu/gconv"
cp -a "$root"/usr/bin/xenstore* "$s/usr/bin/"
cp -a "$root/etc/xen" "$s/etc/"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$s/etc/passwd"
printf 'root:x:0:\n' > "$s/etc/group"
printf '/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n' > "$s/etc/ld.so.conf"
ldconfig -r "$s"

# Kernel modules, each after the modules its depends= field names.
add_module() {
  local m="$1" f dep
  grep -qx "$m.ko" "$s/lab/modules.order" && return 0
  f="$(find "$root/lib/modules/$kver/kernel" -name "$m.ko" | head -1)"
  [ -n "$f" ] || { echo "mkinitrd.sh: module $m not found in $kver" >&2; exit 1; }
  for dep in $(grep -a -o 'depends=[^[:cntrl:]]*' "$f" | head -1 | sed 's/^depends=//; s/,/ /g'); do add_module "$dep"; done
  cp "$f" "$s/lab/modules/"; echo "$m.ko" >> "$s/lab/modules.order"
}
: > "$s/lab/modules.order"
for m in virtio_pci virtio_blk virtio_console xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do add_module "$m"; done

# The guest: the same Debian kernel, busybox initramfs.
cp "$root/boot/vmlinuz-$kver" "$s/lab/vmlinuz"
cp "$out/domU.img" "$s/lab/domU.img"
cp "$here"/scenarios/*.sh "$here"/dom0/*.cfg "$s/lab/"
install -m 0755 "$here/dom0/init" "$s/init"

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
for b in usr/local/bin/xenscope usr/lib/xen-4.17/bin/{xl,xentrace,xenstored,xenconsoled,xen-init-dom0,xenctx} usr/bin/xenstore; do
  if ! chroot "$s" /lib64/ld-linux-x86-64.so.2 --list "/$b" > "$out/ldd.txt" 2>&1 || grep -q 'not found' "$out/ldd.txt"; then
    echo "mkinitrd.sh: /$b cannot load in the dom0 image:" >&2; cat "$out/ldd.txt" >&2; exit 1
  fi
done
# glibc dlopens libgcc_s for thread cancellation (ldd does not show it); xl aborts without it.
[ -e "$s/lib/x86_64-linux-gnu/libgcc_s.so.1" ] || { echo "mkinitrd.sh: libgcc_s.so.1 missing" >&2; exit 1; }
( cd "$s" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 ) > "$out/dom0.img"
echo "$out/dom0.img"

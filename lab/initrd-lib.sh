# The steps the lab's initramfs builders share (lab/mkinitrd.sh for x86,
# lab/arm64/mkinitrd.sh): sourced by them, after they set
#   who    the script's name for messages      root  fetch.sh's unpacked packages
#   kver   the Debian kernel version           s     the dom0 image's root folder
#   arch   the multiarch triplet (x86_64-linux-gnu, aarch64-linux-gnu)

# The Xen toolstack programs every dom0 image must be able to run.
xen_tools=(usr/lib/xen-4.17/bin/{xl,xentrace,xenstored,xenconsoled,xen-init-dom0,xenctx} usr/bin/xenstore)

# pack_cpio DIR IMAGE: DIR as a gzipped newc cpio, files in a fixed order, owned by root.
pack_cpio() {
  ( cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 ) > "$2"
}

# make_domU OUTDIR INIT [PROGRAM...]: OUTDIR/domU.img, busybox-static, the
# guest's /init and the given (static) programs in /bin.
make_domU() {
  local out="$1" d="$1/domU-root" init="$2"
  rm -rf "$d"; mkdir -p "$d"/{bin,proc,sys,dev,tmp}
  cp "$root/bin/busybox" "$d/bin/busybox"
  shift 2; [ $# -eq 0 ] || install -m 0755 "$@" "$d/bin/"
  install -m 0755 "$init" "$d/init"
  pack_cpio "$d" "$out/domU.img"
}

# dom0_root EXTRA_DIR...: the dom0 image's userland in $s: busybox, the
# packages' libraries (no modules, firmware, systemd, udev or gconv), the Xen
# toolstack and its configuration, a root user and ld.so.conf.
dom0_root() {
  rm -rf "$s"
  mkdir -p "$s"/{bin,sbin,proc,sys,dev,run,tmp,root,results,etc,var/lib/xen,var/log/xen,var/lib/xenstored,lab/modules,usr/bin} "${@/#/$s/}"
  ln -s /run "$s/var/run"          # xl needs /var/run -> /run (xen-lab.md)
  cp "$root/bin/busybox" "$s/bin/busybox"
  cp -a "$root/lib" "$s/"
  rm -rf "$s/lib/modules" "$s/lib/firmware" "$s/lib/systemd" "$s/lib/udev"
  mkdir -p "$s/usr/lib"
  cp -a "$root/usr/lib/$arch" "$root/usr/lib/xen-4.17" "$s/usr/lib/"
  rm -rf "$s/usr/lib/$arch/gconv"
  cp -a "$root"/usr/bin/xenstore* "$s/usr/bin/"
  cp -a "$root/etc/xen" "$s/etc/"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$s/etc/passwd"
  printf 'root:x:0:\n' > "$s/etc/group"
  printf '/lib/%s\n/usr/lib/%s\n' "$arch" "$arch" > "$s/etc/ld.so.conf"
}

# add_modules NAME...: the kernel modules into $s/lab/modules, each after the
# modules its depends= field names, their load order in $s/lab/modules.order.
add_module() {
  local m="$1" f dep
  grep -qx "$m.ko" "$s/lab/modules.order" && return 0
  f="$(find "$root/lib/modules/$kver/kernel" -name "$m.ko" | head -1)"
  [ -n "$f" ] || { echo "$who: module $m not found in $kver" >&2; exit 1; }
  for dep in $(grep -a -o 'depends=[^[:cntrl:]]*' "$f" | head -1 | sed 's/^depends=//; s/,/ /g'); do add_module "$dep"; done
  cp "$f" "$s/lab/modules/"; echo "$m.ko" >> "$s/lab/modules.order"
}
add_modules() {
  : > "$s/lab/modules.order"
  local m
  for m in "$@"; do add_module "$m"; done
}

# add_lab OUTDIR SCENARIOS CFGDIR INIT: the guest (the same Debian kernel and
# OUTDIR/domU.img), the scenario scripts, the guest configurations and dom0's /init.
add_lab() {
  cp "$root/boot/vmlinuz-$kver" "$s/lab/vmlinuz"
  cp "$1/domU.img" "$s/lab/domU.img"
  cp "$2"/*.sh "$3"/*.cfg "$s/lab/"
  install -m 0755 "$4" "$s/init"
}

# check_libgcc: glibc dlopens libgcc_s for thread cancellation (neither ldd
# nor DT_NEEDED shows it); xl aborts without it.
check_libgcc() {
  [ -e "$s/lib/$arch/libgcc_s.so.1" ] || { echo "$who: libgcc_s.so.1 missing" >&2; exit 1; }
}

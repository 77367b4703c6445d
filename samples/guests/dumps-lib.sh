# The steps the Linux test guests' dump makers share
# (samples/guests/linux/make-dumps.sh, samples/guests/linux-arm64/make-dumps.sh):
# sourced by them; each function names its inputs.

# lock_cache BASE: BASE exists and this process holds BASE/.lock until it
# exits. Several clones, worktrees and test processes share the cache: one
# maker at a time, and a reader waits while a folder is being made.
lock_cache() {
  mkdir -p "$1"
  exec 9>"$1/.lock"
  flock 9
}

# debug_vmlinux OUT DBG_PACKAGE[:ARCH] KVER: OUT/vmlinux, the one file kept of
# the kernel's -dbg package (usr/lib/debug/boot/vmlinux-KVER); the .deb (close
# to 1 GB) is deleted. Nothing is done when OUT/vmlinux is there.
debug_vmlinux() {
  local out=$1 pkg=$2 kver=$3 dbg="${2%%:*}"
  [ ! -s "$out/vmlinux" ] || return 0
  ( cd "$out" && rm -f "$dbg"_*.deb && { apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$pkg" >&2; }; } )
  dpkg-deb --fsys-tarfile "$out/$dbg"_*.deb | tar -xO "./usr/lib/debug/boot/vmlinux-$kver" > "$out/vmlinux.tmp"
  rm -f "$out/$dbg"_*.deb
  mv "$out/vmlinux.tmp" "$out/vmlinux"
}

# guest_initrd OUT BUSYBOX QEMU_FW_CFG_KO INIT: OUT/initrd.img, busybox-static,
# the module that fills QEMU's -device vmcoreinfo, and the guest's /init.
guest_initrd() {
  local r="$1/initrd.root"
  rm -rf "$r"; mkdir -p "$r"/{bin,proc,sys,dev}
  cp "$2" "$r/bin/busybox"
  cp "$3" "$r/"
  install -m 0755 "$4" "$r/init"
  ( cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 ) > "$1/initrd.img"
  rm -rf "$r"
}

# boot_and_dump RUN_PY OUT STAMP DUMP...: boots the guest (RUN_PY OUT
# OUT/vmlinuz OUT/initrd.img, bounded), checks it panicked and left every
# DUMP, then marks OUT finished with STAMP and prints OUT.
boot_and_dump() {
  local run=$1 out=$2 stamp=$3 f; shift 3
  timeout 900 python3 "$run" "$out" "$out/vmlinuz" "$out/initrd.img" >&2
  grep -q "Kernel panic - not syncing" "$out/serial.log"
  for f in "$@"; do [ -s "$out/$f" ] || { echo "make-dumps.sh: $f missing" >&2; exit 1; }; done
  echo "$stamp" > "$out/.complete"
  echo "$out"
}

# The steps the Linux test guests' dump makers share
# (samples/guests/linux/make-dumps.sh, samples/guests/linux-arm64/make-dumps.sh,
# samples/guests/linux-trixie/make-dumps.sh):
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

# deb_member DEB PATH OUT: the file ./PATH of DEB's data archive written to
# OUT. The archive is read only up to that file: the debug vmlinux comes
# first in a -dbg package whose data is ~7 GB uncompressed, so stopping there
# saves most of the decompression (dpkg-deb then ends on a closed pipe).
deb_member() {
  { dpkg-deb --fsys-tarfile "$1" 2>/dev/null || true; } | python3 -c '
import shutil, sys, tarfile
want, out = "./" + sys.argv[1].lstrip("./"), sys.argv[2]
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
    for m in t:
        if m.name == want and m.isfile():
            with open(out, "wb") as f:
                shutil.copyfileobj(t.extractfile(m), f, 1 << 20)
            sys.exit(0)
sys.exit("deb_member: %s not in %s" % (want, sys.argv[3]))
' "$2" "$3" "$1"
}

# guest_initrd OUT BUSYBOX QEMU_FW_CFG_KO INIT [PROGRAM...]: OUT/initrd.img,
# busybox-static, the module that fills QEMU's -device vmcoreinfo, the
# guest's /init and any further (static) PROGRAMs in /bin.
guest_initrd() {
  local r="$1/initrd.root" p
  rm -rf "$r"; mkdir -p "$r"/{bin,proc,sys,dev}
  cp "$2" "$r/bin/busybox"
  cp "$3" "$r/"
  install -m 0755 "$4" "$r/init"
  for p in "${@:5}"; do install -m 0755 "$p" "$r/bin/"; done
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

# trixie_apt DIR TOOL ARGS...: TOOL (apt-get or apt-cache) with a private configuration in DIR that
# sees only Debian trixie main (deb.debian.org, signed by the trixie keys
# Debian's archive keyring ships): the host's sources, state and cache are
# left alone. The index is fetched once (`apt-get update` when DIR has none).
trixie_apt() {
  local dir=$1 tool=$2; shift 2
  mkdir -p "$dir/etc/preferences.d" "$dir/etc/sources.list.d" "$dir/state/lists/partial" "$dir/cache/archives/partial"
  [ -s "$dir/etc/trixie.sources" ] || cat > "$dir/etc/trixie.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  local opts=(-o "Dir::Etc::SourceList=$dir/etc/trixie.sources" -o "Dir::Etc::SourceParts=$dir/etc/sources.list.d"
              -o "Dir::Etc::Preferences=$dir/etc/preferences" -o "Dir::Etc::PreferencesParts=$dir/etc/preferences.d"
              -o "Dir::State=$dir/state" -o "Dir::Cache=$dir/cache" -o "APT::Architecture=amd64"
              -o "APT::Architectures::=amd64" -o "Acquire::Languages=none" -o "APT::Sandbox::User=root")
  if [ "${1:-}" != update ] && ! compgen -G "$dir/state/lists/*_Packages*" >/dev/null; then
    apt-get "${opts[@]}" update -qq >&2
  fi
  "$tool" "${opts[@]}" "$@"
}

#!/usr/bin/env bash
# Builds the hypervisor (only xen/) from Debian's own source package with
# CONFIG_EXPERT, CONFIG_GDBSX, CONFIG_DEBUG_INFO and CONFIG_FRAME_POINTER on,
# starting from Debian's shipped config, in $XENSCOPE_CACHE/lab/xen-build
# (outside the clone; never committed). Reuses a finished build. Prints the
# folder holding `xen` (bootable with QEMU -kernel) and `xen-syms` (DWARF).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$("$here/fetch.sh")"
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}/lab/xen-build"
out="$cache/out"
if [ -f "$out/xen" ] && [ -f "$out/xen-syms" ]; then echo "$out"; exit 0; fi
need=()
for p in flex bison dpkg-dev gcc make python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2; }
mkdir -p "$cache"; cd "$cache"
if ! ls -d xen-4.17*/ >/dev/null 2>&1; then
  # Source entries are not enabled by default: add a deb-src copy of the stock stanzas.
  src=/etc/apt/sources.list.d/xenscope-deb-src.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ /etc/apt/sources.list; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src"
    apt-get update -qq
  fi
  # Newest first; the security suite's files have not always been downloadable.
  for v in $(apt-cache showsrc xen | awk '/^Version:/ {print $2}' | sort -rV -u); do
    apt-get source -qq "xen=$v" >&2 && break
  done
fi
srcdir="$(ls -d "$cache"/xen-4.17*/ | head -1)"
[ -d "$srcdir/xen" ] || { echo "build-xen.sh: no Xen source tree in $cache" >&2; exit 1; }
cp "$root/boot/xen-4.17-amd64.config" "$srcdir/xen/.config"
for opt in EXPERT GDBSX DEBUG_INFO FRAME_POINTER; do
  sed -i "/^# CONFIG_$opt is not set/d; /^CONFIG_$opt=/d" "$srcdir/xen/.config"
  echo "CONFIG_$opt=y" >> "$srcdir/xen/.config"
done
make -C "$srcdir/xen" olddefconfig >&2
make -C "$srcdir/xen" -j"$(nproc)" >&2
for opt in EXPERT GDBSX DEBUG_INFO FRAME_POINTER; do
  grep -q "^CONFIG_$opt=y" "$srcdir/xen/.config" || { echo "build-xen.sh: CONFIG_$opt did not stick" >&2; exit 1; }
done
mkdir -p "$out"
cp "$srcdir/xen/xen" "$srcdir/xen/xen-syms" "$srcdir/xen/.config" "$out/"
basename "$srcdir" > "$out/source-version"
echo "$out"

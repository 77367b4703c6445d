#!/usr/bin/env bash
# Builds the hypervisor (only xen/) from Debian's own source package with
# CONFIG_EXPERT, CONFIG_GDBSX, CONFIG_DEBUG_INFO and CONFIG_FRAME_POINTER on,
# starting from Debian's shipped config, in $XENSCOPE_CACHE/lab/xen-build
# (outside the clone; never committed). Works on a fresh Debian machine: it
# installs its build tools, enables source entries (a deb-src copy of the
# stock stanza) and runs `apt-get source xen`. Reuses a finished build made
# with the same options and config. Prints the folder holding `xen` (bootable
# with QEMU -kernel), `xen-syms` (DWARF), `.config`, `source-version` and
# `build-seconds`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$("$here/fetch.sh")"
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}/lab/xen-build"
out="$cache/out"
opts="EXPERT GDBSX DEBUG_INFO FRAME_POINTER"
# The build is reused while the options and Debian's config are the same.
key="$( { echo "$opts"; cat "$root/boot/xen-4.17-amd64.config"; } | sha256sum | cut -c1-16)"
mkdir -p "$cache"
# Two clones on one machine may ask at once: one builds, the other waits.
exec 9>"$cache/.lock"; flock 9
if [ -f "$out/xen" ] && [ -f "$out/xen-syms" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then echo "$out"; exit 0; fi
t0=$(date +%s)
# Build tools for xen/ (a fresh Debian machine has none of flex/bison;
# libc6-dev for the host programs Kconfig builds; dpkg-dev unpacks the source).
need=()
for p in flex bison make gcc libc6-dev binutils python3 dpkg-dev xz-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "build-xen.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
cd "$cache"
if ! ls -d xen-4.17*/xen >/dev/null 2>&1; then
  # Source entries are not enabled by default: add a deb-src copy of the stock
  # entries (deb822 debian.sources on bookworm, or one-line sources.list).
  if ! grep -rqs -e '^Types:.*deb-src' -e '^deb-src ' /etc/apt/sources.list.d/ /etc/apt/sources.list; then
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > /etc/apt/sources.list.d/xenscope-deb-src.sources
    elif [ -f /etc/apt/sources.list ]; then
      sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/xenscope-deb-src.list
    fi
  fi
  apt-cache showsrc xen >/dev/null 2>&1 || apt-get update -qq
  # Newest first; the security suite's files have not always been downloadable.
  for v in $(apt-cache showsrc xen | awk '/^Version:/ {print $2}' | sort -rV -u); do
    apt-get source -qq "xen=$v" >&2 && break
  done
fi
srcdir="$(ls -d "$cache"/xen-4.17*/ | head -1)"
[ -d "$srcdir/xen" ] || { echo "build-xen.sh: no Xen source tree in $cache (apt-get source xen failed)" >&2; exit 1; }
cp "$root/boot/xen-4.17-amd64.config" "$srcdir/xen/.config"
for opt in $opts; do
  sed -i "/^# CONFIG_$opt is not set/d; /^CONFIG_$opt=/d" "$srcdir/xen/.config"
  echo "CONFIG_$opt=y" >> "$srcdir/xen/.config"
done
make -C "$srcdir/xen" olddefconfig >&2
make -C "$srcdir/xen" -j"$(nproc)" >&2
for opt in $opts; do
  grep -q "^CONFIG_$opt=y" "$srcdir/xen/.config" || { echo "build-xen.sh: CONFIG_$opt did not stick" >&2; exit 1; }
done
mkdir -p "$out"
cp "$srcdir/xen/xen" "$srcdir/xen/xen-syms" "$srcdir/xen/.config" "$out/"
basename "$srcdir" > "$out/source-version"
echo $(( $(date +%s) - t0 )) > "$out/build-seconds"
echo "$key" > "$out/key"
echo "build-xen.sh: built $(cat "$out/source-version") in $(cat "$out/build-seconds") s" >&2
echo "$out"

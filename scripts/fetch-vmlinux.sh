#!/usr/bin/env bash
# Fetches Debian's debug vmlinux (linux-image-6.1.0-56-amd64-dbg, ~858 MB
# download, 633 MB of ELF+DWARF) for the symbolizer benchmark into the cache
# folder outside the clone, without installing the package. Prints its path.
set -euo pipefail
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}"
dir="$cache/symbench"
pkg="${VMLINUX_DBG_PACKAGE:-linux-image-6.1.0-56-amd64-dbg}"
ver="${pkg#linux-image-}"; ver="${ver%-dbg}"
out="$dir/vmlinux-$ver"
mkdir -p "$dir"
if [ ! -s "$out" ]; then
  ( cd "$dir" && rm -f "$pkg"_*.deb && { apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$pkg"; }; } )
  dpkg-deb --fsys-tarfile "$dir/$pkg"_*.deb | tar -xO "./usr/lib/debug/boot/vmlinux-$ver" > "$out.tmp"
  mv "$out.tmp" "$out"
  rm -f "$dir/$pkg"_*.deb
fi
echo "$out"

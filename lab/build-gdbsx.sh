#!/usr/bin/env bash
# Builds Xen's own gdbsx (tools/debugger/gdbsx) from the Debian source package
# lab/build-xen.sh unpacked, outside the clone, for the live-gdb comparison in
# the selfbuilt profile. gdbsx talks to the hypervisor through privcmd
# hypercalls only, so it needs Xen's public headers and nothing to link but
# libc (built static: it runs in dom0 whatever that image's libraries are).
# Prints the path of the binary ($XENSCOPE_CACHE/lab/gdbsx/gdbsx, reused).
set -euo pipefail
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}/lab"
out="$cache/gdbsx"
src="$(ls -d "$cache"/xen-build/xen-4.17*/ 2>/dev/null | head -1)"
[ -n "$src" ] && [ -d "$src/tools/debugger/gdbsx" ] || { echo "build-gdbsx.sh: no Xen source in $cache/xen-build (run lab/build-xen.sh first)" >&2; exit 1; }
g="$src/tools/debugger/gdbsx"
if [ ! -x "$out/gdbsx" ] || [ -n "$(find "$g" -newer "$out/gdbsx" -name '*.[ch]' -print -quit)" ]; then
  rm -rf "$out"; mkdir -p "$out/inc/xen/sys"
  cp -r "$src/xen/include/public/." "$out/inc/xen/"
  cp "$src/tools/include/xen-sys/Linux/"*.h "$out/inc/xen/sys/"
  # xen/foreign/x86_{32,64}.h are generated from the public headers (as Xen's tools/include does).
  mkdir -p "$out/inc/xen/foreign"
  f="$src/tools/include/xen-foreign"; pub="$src/xen/include/public"
  for a in x86_32 x86_64; do   # the include guard comes from the output name: run where it lands
    (cd "$out/inc/xen/foreign" && python3 "$f/mkheader.py" $a $a.h.tmp "$pub/arch-x86/xen-$a.h" "$pub/arch-x86/xen.h" "$pub/xen.h" \
      && sed 's/(__align8__ \(uint64_t\))/(\1)/g' < $a.h.tmp > $a.h && rm $a.h.tmp)
  done
  gcc -O2 -static -D__XEN_TOOLS__ -I"$out/inc" -I"$g/xg" -o "$out/gdbsx.tmp" \
    "$g/gx/gx_comm.c" "$g/gx/gx_main.c" "$g/gx/gx_utils.c" "$g/gx/gx_local.c" "$g/xg/xg_main.c" >&2
  mv "$out/gdbsx.tmp" "$out/gdbsx"
  basename "$src" > "$out/source-version"
fi
echo "$out/gdbsx"

#!/usr/bin/env bash
# Unpacks the Xen tools users compare XenScope with (Debian's xen-utils-common:
# xentrace_format, xenalyze) into a cache folder outside the clone, without
# installing the Xen toolstack. Prints nothing on success when already cached.
set -euo pipefail
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}"
peers="$cache/peers"
mkdir -p "$peers"
if [ ! -x "$peers/root/usr/bin/xenalyze" ]; then
  ( cd "$peers" && rm -f xen-utils-common_*.deb && apt-get download xen-utils-common >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get download xen-utils-common; } )
  rm -rf "$peers/root" && dpkg -x "$peers"/xen-utils-common_*.deb "$peers/root"
fi
# Debian's xentrace_format (Xen 4.17) is Python 2 code; convert a copy mechanically.
if [ ! -f "$peers/xentrace_format.py3" ]; then
  cp "$peers/root/usr/bin/xentrace_format" "$peers/xentrace_format.py3"
  sed -i 's/except IOError, struct.error:/except (IOError, struct.error):/' "$peers/xentrace_format.py3"
  python3 -m lib2to3 -w -n "$peers/xentrace_format.py3" >/dev/null 2>&1
  sed -i 's/sys\.stdin\.read(/sys.stdin.buffer.read(/g' "$peers/xentrace_format.py3"
fi
echo "$peers"

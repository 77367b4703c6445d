#!/usr/bin/env bash
# Fetches the Debian packages the lab boots (lab/packages.txt plus the dom0
# kernel) with `apt-get download` into $XENSCOPE_CACHE/lab/debs and unpacks
# them with `dpkg -x` into $XENSCOPE_CACHE/lab/root. Nothing is installed.
# Prints the unpacked root. Cached: a second run does no network access.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}/lab"
debs="$cache/debs"; root="$cache/root"
mkdir -p "$debs"
mapfile -t pkgs < <(grep -v -e '^#' -e '^$' "$here/packages.txt")
# The metapackage names the current kernel ABI (linux-image-6.1.0-NN-amd64).
kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
kpkg="$(kernel_pkg)"
if [ -z "$kpkg" ]; then apt-get update -qq; kpkg="$(kernel_pkg)"; fi
[ -n "$kpkg" ] || { echo "fetch.sh: cannot resolve the dom0 kernel package from linux-image-amd64" >&2; exit 1; }
pkgs+=("$kpkg")
missing=()
for p in "${pkgs[@]}"; do
  compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fetch.sh: downloading ${missing[*]}" >&2
  ( cd "$debs" && { apt-get download "${missing[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get download "${missing[@]}" >&2; }; } )
  rm -f "$root/.complete"
fi
if [ ! -f "$root/.complete" ]; then
  rm -rf "$root"; mkdir -p "$root"
  for p in "${pkgs[@]}"; do
    for d in "$debs/${p}"_*.deb; do dpkg -x "$d" "$root"; done
  done
  echo "$kpkg" > "$root/.kernel-package"
  touch "$root/.complete"
fi
echo "$root"

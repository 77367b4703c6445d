#!/usr/bin/env bash
# Fetches the Debian arm64 packages the arm64 lab boots (lab/arm64/packages.txt
# plus the dom0 kernel) with `apt-get download NAME:arm64` into
# $XENSCOPE_CACHE/lab-arm64/debs and unpacks them with `dpkg -x` into
# $XENSCOPE_CACHE/lab-arm64/root. Nothing foreign is installed; apt only needs
# arm64 among dpkg's foreign architectures (added once, idempotently).
# Prints the unpacked root. Cached: a second run does no network access.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}/lab-arm64"
debs="$cache/debs"; root="$cache/root"
mkdir -p "$debs"
# One fetch at a time per cache (several clones may boot the lab at once).
exec 9>"$cache/.lock"; flock 9
# Unpacked from this very package list: nothing to do.
list_hash="$(sha256sum "$here/packages.txt" | cut -c1-16)"
if [ -f "$root/.complete" ] && [ "$(cat "$root/.complete")" = "$list_hash" ]; then echo "$root"; exit 0; fi
sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo_cmd dpkg --add-architecture arm64
  $sudo_cmd apt-get update -qq
fi
mapfile -t pkgs < <(grep -v -e '^#' -e '^$' "$here/packages.txt")
kernel_pkg() {
  apt-cache depends linux-image-arm64:arm64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {sub(/:arm64$/, "", $2); print $2; exit}'
}
kpkg="$(kernel_pkg)"
if [ -z "$kpkg" ]; then $sudo_cmd apt-get update -qq; kpkg="$(kernel_pkg)"; fi
[ -n "$kpkg" ] || { echo "arm64/fetch.sh: cannot resolve the dom0 kernel package from linux-image-arm64" >&2; exit 1; }
pkgs+=("$kpkg")
missing=()
for p in "${pkgs[@]}"; do
  compgen -G "$debs/${p}_*_arm64.deb" >/dev/null || missing+=("$p:arm64")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "arm64/fetch.sh: downloading ${missing[*]}" >&2
  ( cd "$debs" && { apt-get download "${missing[@]}" >/dev/null 2>&1 \
      || { $sudo_cmd apt-get update -qq && apt-get download "${missing[@]}" >&2; }; } )
fi
rm -rf "$root"; mkdir -p "$root"
for p in "${pkgs[@]}"; do
  for d in "$debs/${p}"_*_arm64.deb; do dpkg -x "$d" "$root"; done
done
echo "$kpkg" > "$root/.kernel-package"
echo "$list_hash" > "$root/.complete"
echo "$root"

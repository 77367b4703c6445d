#!/usr/bin/env bash
# Installs the Debian packages XenScope's build, tests and demo need.
# Idempotent: only calls apt-get when something is missing.
set -euo pipefail
pkgs=(
  # build: DWARF layer, compressed traces and dumps
  libdw-dev libelf-dev zlib1g-dev liblzma-dev libzstd-dev liblzo2-dev libsnappy-dev
  # tests: peers we compare against, and their helpers
  elfutils gdb gcc libc6-dev binutils python3 python3-lib2to3 xz-utils zstd gzip
  # tests: DuckDB (PyPI, in a venv) over exported tables; headless browser for the HTML report
  python3-venv python3-pip chromium
  # tests: arm64 crash guest (cross compiler, QEMU for aarch64, gdb for aarch64 cores)
  gcc-aarch64-linux-gnu qemu-system-arm gdb-multiarch
  # tests: trace collector (nice, prlimit, mount for a small tmpfs)
  coreutils util-linux mount
  # the lab: Xen under QEMU (lab/, docs/lab.md)
  qemu-system-x86 cpio
  # tests: kdump-compressed lzo dumps written by makedumpfile (docs/crash.md)
  makedumpfile
  # tests: the Linux test guest (samples/guests/linux: busybox initramfs) and Debian's crash as a peer
  busybox-static crash
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

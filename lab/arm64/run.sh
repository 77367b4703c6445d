#!/usr/bin/env bash
# The arm64 lab profile (lab/run.sh arm64): Debian's arm64 Xen 4.17 and dom0
# under qemu-system-aarch64 (TCG). One boot: the shared `traces` scenario
# (Xen's xentrace under dom0 load with an arm64 guest running), then dom0
# crashes itself through Xen, which (booted with `noreboot`) halts the
# machine; QEMU pauses and the host takes the whole-machine dumps. Results
# in lab/results/arm64. XenScope is not inside (no aarch64 Swift): the tests
# read the results on the host.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; lab="$(dirname "$here")"
work="$lab/work/arm64"; results="$lab/results/arm64"
command -v qemu-system-aarch64 >/dev/null || { echo "lab: qemu-system-aarch64 missing (apt-get install qemu-system-arm)" >&2; exit 1; }
mkdir -p "$lab/work"
# One arm64 boot per clone at a time: two would write the same results folder.
exec 8>"$lab/work/arm64.lock"
flock -n 8 || { echo "lab: another arm64 boot of this clone is running (lab/work/arm64.lock)" >&2; exit 1; }
root="$("$here/fetch.sh")"
kver="$(sed 's/^linux-image-//' "$root/.kernel-package")"
mkdir -p "$work"
if [ ! -f "$work/dom0.img" ] || [ -n "$(find "$here" "$lab/domU" "$lab/scenarios" "$lab/initrd-lib.sh" "$root/.complete" -newer "$work/dom0.img" -print -quit)" ]; then
  "$here/mkinitrd.sh" "$work" >/dev/null
fi
rm -rf "$results"; mkdir -p "$results"
t0=$(date +%s); rc=0
/usr/bin/python3 "$here/boot.py" --xen "$root/boot/xen-4.17-arm64" --kernel "$root/boot/vmlinuz-$kver" \
  --initrd "$work/dom0.img" --scenarios traces --crash --timeout "${LAB_TIMEOUT:-2400}" --out "$results" || rc=$?
[ $rc -ne 0 ] || "$lab/stamp.sh" > "$results/stamp"
echo "lab: profile arm64 took $(( $(date +%s) - t0 )) s, results in $results" >&2
exit $rc

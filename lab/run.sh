#!/usr/bin/env bash
# Runs one lab profile: builds what it needs (xenscope release binary, the
# initramfs images), boots Xen under QEMU and leaves results in
# lab/results/PROFILE. Profiles:
#   ci    one boot: traces + PV dump-core, then an NMI crash of the hypervisor
#         and QEMU's whole-machine dumps (what CI runs)
#   pvh   CPU with HAP (qemu64,+svm,+npt): traces with a PV and a PVH guest
#         running, then the PVH guest's dump-core (slow under TCG; make lab only)
#   selfbuilt  the hypervisor built from Debian's source with GDBSX and DWARF
#         (lab/build-xen.sh, cached), Debian's dom0: info, trace, dump-core,
#         then the NMI crash and QEMU's whole-machine ELF dump (xen-syms kept
#         beside it)
#   gdbperf  self-built Xen: our gdbstub vs Xen's gdbsx (lab/build-gdbsx.sh) on
#         the same PV guest, 64 MiB read and stepi timings (make lab only)
#   gdbhvm   self-built Xen on a CPU with HAP (qemu64,+svm,+npt): live gdb on
#         a PVH guest, and per-vCPU run control and checked stepi on the PV
#         guest (make lab only)
#   hvmbreak self-built Xen on a CPU with HAP under a newer QEMU than
#         bookworm's (bookworm-backports, lab/fetch-qemu.sh, or QEMU_SYSTEM):
#         hbreak and break on a PVH guest through live gdb (make lab only)
#   arm64 Debian's arm64 Xen under qemu-system-aarch64: traces, then a dom0
#         crash with noreboot and the whole-machine dumps (lab/arm64/run.sh)
# Usage: lab/run.sh PROFILE
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(dirname "$here")"
profile="${1:?usage: run.sh ci|pvh|selfbuilt|gdbperf|gdbhvm|gdbavx|hvmbreak|arm64}"
case "$profile" in arm64) exec "$here/arm64/run.sh" ;; esac   # own packages, images, boot (lab/arm64)
work="$here/work"; results="$here/results/$profile"
mkdir -p "$work"
command -v qemu-system-x86_64 >/dev/null || { echo "lab: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }
root="$("$here/fetch.sh")"
kver="$(sed 's/^linux-image-//' "$root/.kernel-package")"

# Our binary, release build; rebuilt only when a source file is newer.
bin="$repo/.build/release/xenscope"
if [ ! -x "$bin" ] || [ -n "$(find "$repo/Sources" "$repo/Package.swift" -newer "$bin" -print -quit)" ]; then
  echo "lab: swift build -c release --product xenscope" >&2
  (cd "$repo" && swift build -c release --product xenscope >&2)
fi
# Xen's gdbsx from the same source (selfbuilt's live-gdb comparison), cached; into the image.
if [ "$profile" = selfbuilt ] || [ "$profile" = gdbperf ]; then
  "$here/build-xen.sh" >/dev/null
  gdbsx="$("$here/build-gdbsx.sh")"
  [ ! -f "$work/dom0.img" ] || [ ! "$gdbsx" -nt "$work/dom0.img" ] || rm -f "$work/dom0.img"
fi
# Images are rebuilt when the binary or a lab file changed.
if [ ! -f "$work/dom0.img" ] || [ -n "$(find "$bin" "$here/dom0" "$here/domU" "$here/scenarios" "$here/mkinitrd.sh" "$here/initrd-lib.sh" "$root/.complete" -newer "$work/dom0.img" -print -quit)" ]; then
  "$here/mkinitrd.sh" "$work" "$bin" >/dev/null
fi
[ -f "$work/xen-debian" ] || gunzip -c "$root/boot/xen-4.17-amd64.gz" > "$work/xen-debian"

rm -rf "$results"; mkdir -p "$results"
t0=$(date +%s); rc=0
case "$profile" in
  ci)  /usr/bin/python3 "$here/boot.py" --xen "$work/xen-debian" --kernel "$root/boot/vmlinuz-$kver" \
         --initrd "$work/dom0.img" --scenarios traces+record-opts+dump-pv+gdb-live --gdb --nmi --timeout "${LAB_TIMEOUT:-2400}" --out "$results" || rc=$? ;;
  pvh) LAB_CPU="${LAB_CPU:-qemu64,+svm,+npt}" /usr/bin/python3 "$here/boot.py" --xen "$work/xen-debian" --kernel "$root/boot/vmlinuz-$kver" \
         --initrd "$work/dom0.img" --scenarios traces+dump-pvh --timeout "${LAB_TIMEOUT:-2400}" --out "$results" || rc=$? ;;
  selfbuilt)
       xenout="$("$here/build-xen.sh")"
       cp "$xenout/xen-syms" "$xenout/source-version" "$xenout/build-seconds" "$results/"
       /usr/bin/python3 "$here/boot.py" --xen "$xenout/xen" --kernel "$root/boot/vmlinuz-$kver" \
         --initrd "$work/dom0.img" --scenarios selfbuilt+gdb-live --gdb --nmi --dumps elf --timeout "${LAB_TIMEOUT:-2400}" --out "$results" || rc=$? ;;
  gdbperf)   # make lab only: our stub vs Xen's gdbsx on the self-built Xen (docs/performance.md)
       /usr/bin/python3 "$here/boot.py" --xen "$("$here/build-xen.sh")/xen" --kernel "$root/boot/vmlinuz-$kver" \
         --initrd "$work/dom0.img" --scenarios gdb-perf --gdb --timeout "${LAB_TIMEOUT:-2400}" --out "$results" || rc=$? ;;
  gdbhvm)    # make lab only: live gdb on a PVH guest (SVM + nested paging under TCG) and on the PV guest's vCPUs
       LAB_CPU="${LAB_CPU:-qemu64,+svm,+npt}" /usr/bin/python3 "$here/boot.py" --xen "$("$here/build-xen.sh")/xen" --kernel "$root/boot/vmlinuz-$kver" \
         --initrd "$work/dom0.img" --scenarios gdb-hvm --gdb --timeout "${LAB_TIMEOUT:-2400}" --out "$results" || rc=$? ;;
  gdbavx)    # make lab only: ymm registers of a PV guest through live gdb, on a CPU with XSAVE/AVX
       LAB_CPU="${LAB_CPU:-qemu64,+xsave,+xsaveopt,+avx}" /usr/bin/python3 "$here/boot.py" --xen "$("$here/build-xen.sh")/xen" --kernel "$root/boot/vmlinuz-$kver" \
         --initrd "$work/dom0.img" --scenarios gdb-avx --gdb --timeout "${LAB_TIMEOUT:-2400}" --out "$results" || rc=$? ;;
  hvmbreak)  # by hand only (not in make lab): HVM breakpoints need a QEMU whose TCG SVM arms DR7 on VMRUN (docs/gdbstub.md)
       qemu="${QEMU_SYSTEM:-$("$here/fetch-qemu.sh")}"
       QEMU_SYSTEM="$qemu" LAB_CPU="${LAB_CPU:-qemu64,+svm,+npt}" /usr/bin/python3 "$here/boot.py" --xen "$("$here/build-xen.sh")/xen" --kernel "$root/boot/vmlinuz-$kver" \
         --initrd "$work/dom0.img" --scenarios gdb-hvm-break --gdb --timeout "${LAB_TIMEOUT:-2400}" --out "$results" || rc=$? ;;
  *) echo "lab: unknown profile $profile" >&2; exit 2 ;;
esac
[ $rc -ne 0 ] || "$here/stamp.sh" > "$results/stamp"
echo "lab: profile $profile took $(( $(date +%s) - t0 )) s, results in $results" >&2
exit $rc

# Scenario "gdb-avx" (profile gdbavx, make lab only; self-built Xen with
# CONFIG_GDBSX on a CPU with XSAVE and AVX): the host's gdb through
# `xenscope gdbstub --domain N --tty <virtio port>` on a 1-vCPU PV guest whose
# only user task is lab/domU/avxcheck.c (ymm0-15 hold a known pattern, checked
# by the guest itself). gdb reads the ymm registers, writes a general
# register and a ymm lane, single-steps from a kernel breakpoint, detaches;
# the guest's console then says what its registers held (lab/gdb_live.py,
# phase avx; Tests/LabExtraTests/LabGDBAVXTests.swift).
out=$1; . /lab/common.sh
set -x
port=
for p in /sys/class/virtio-ports/*; do
  [ "$(cat $p/name 2>/dev/null)" = xenscope.gdb ] && port=/dev/$(basename $p)
done
[ -n "$port" ] && [ -e "$port" ] || { echo "no virtio port named xenscope.gdb (boot.py --gdb, virtio_console)"; exit 1; }
grep -o 'xsave\|avx' /proc/cpuinfo | sort | uniq -c > $out/dom0-cpu-flags.txt
sym() { awk -v s="$1" '$3 == s { print $1; exit }' /results/kallsyms; }
first_sym() { for f in "$@"; do a=$(sym $f); [ -n "$a" ] && { echo "$f@$a"; return; }; done; }
log=/var/log/xen/console/guest-avx.log
bp=$(first_sym xen_evtchn_do_upcall __xen_evtchn_do_upcall xen_pv_evtchn_do_upcall __schedule)
start_guest avx || exit 1
i=0; while [ $i -lt 120 ] && ! grep -q 'XENSCOPE-AVX: \(loaded\|no avx\)' $log; do sleep 1; i=$((i+1)); done
loop=$(grep -o 'loop=0x[0-9a-f]*-0x[0-9a-f]*' $log | head -1)
[ -n "$loop" ] || { echo "avxcheck did not load its registers:"; cat $log; cp $log $out/; exit 1; }
lo=${loop#loop=0x}; lo=${lo%-*}; hi=${loop#*-0x}
sleep 6   # one "intact" line before gdb comes
dom=$(retry xl domid avx)
xenscope gdbstub --domain $dom --tty $port --once > $out/stub-avx.log 2>&1 &
stub=$!
i=0; while [ $i -lt 60 ] && ! xl list avx | awk 'NR == 2 { print $5 }' | grep -q p; do sleep 1; i=$((i+1)); done
say "gdb phase=avx domid=$dom lo=$lo hi=$hi bp=${bp#*@}"
i=0; while kill -0 $stub 2>/dev/null && [ $i -lt 900 ]; do sleep 1; i=$((i+1)); done
kill $stub 2>/dev/null; wait $stub; echo "stub exit=$?"
sleep 12   # the guest reports what its registers hold now
xl list > $out/xl-list-detached.txt
cp $log $out/

# Scenario "traces": a PV guest (and a PVH one where Xen has HAP) running and
# dom0 under load; Xen's xentrace
# and (when this build has it) `xenscope trace record --xen` capture the same
# event masks one after the other. The first capture allocates small per-CPU
# buffers (Xen keeps that size for the rest of the boot); during the "lost"
# capture the collector is stopped (SIGSTOP) for 3 s, so Xen's rings overflow
# and it writes TRC_LOST_RECORDS however fast or idle the machine is (slow
# polling alone is not enough: the collector also wakes on Xen's half-full
# VIRQ).
out=$1; . /lab/common.sh
set -x
xl list | grep -q '^pv ' || start_guest pv || exit 1
# A PVH guest gives the captures HVM records (VMEXIT/VMENTRY of its vCPU)
# where Xen has HAP (the pvh profile's CPU model: SVM with nested paging);
# the ci profile's qemu64 has none, so only the PV guest runs there. The
# arm64 image has no pvh.cfg (every ARM guest uses HAP; its one guest is pv).
if [ -f /lab/pvh.cfg ] && xl info | grep -q '^virt_caps.*hap'; then
  xl list | grep -q '^pvh ' || start_guest pvh || exit 1
fi
xl list > $out/xl-list.txt
for g in pv pvh; do xl list | grep -q "^$g " && retry xl domid $g > $out/domid-$g; done
start_load
ours=no
for i in 1 2 3; do h=$(xenscope trace record --help 2>&1); [ $? -lt 128 ] && break; done
echo "$h" | grep -q -- '--xen' && ours=yes
# capture NAME MASK SECONDS POLL_MS [PAGES]
# stall NAME PROG: for the "lost" capture, stop PROG 1 s in, for 3 s.
stall() {
  [ "$1" = lost ] || return 0
  sleep 1; for p in $(pidof $2); do kill -STOP $p; done
  sleep 3; for p in $(pidof $2); do kill -CONT $p; done
}
xt() { rm -f $out/$1.xentrace; timeout $(( $3 + 30 )) xentrace -D $size -s $4 -e $2 -T $3 $out/$1.xentrace & local pid=$!; stall $1 xentrace; wait $pid; }
xs() { rm -f $out/$1.xenscope; timeout $(( $3 + 30 )) xenscope trace record --xen --discard --event $2 --duration $3 -o $out/$1.xenscope & local pid=$!; stall $1 xenscope; wait $pid; }
capture() {
  size=${5:+-S $5}
  retry xt "$@"
  echo "xentrace $1 mask=$2 seconds=$3 poll_ms=$4 pages=${5:-unchanged} rc=$?" >> $out/captures.txt
  if [ $ours = yes ]; then
    retry xs "$@"
    echo "xenscope $1 mask=$2 seconds=$3 rc=$?" >> $out/captures.txt
  fi
}
capture sched 0x0002f000 6 100 8
capture all   0x0ffff000 8 100
capture lost  0x0ffff000 6 3000
stop_load
for f in $out/*.xentrace $out/*.xenscope; do
  [ -f "$f" ] && xenscope trace info $f > $f.info-dom0.txt 2>&1
done
ls -l $out

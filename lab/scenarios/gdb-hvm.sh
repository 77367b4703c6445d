# Scenario "gdb-hvm" (profile gdbhvm, make lab only; self-built Xen with
# CONFIG_GDBSX on a CPU with HAP): the host's gdb through `xenscope gdbstub
# --domain N --tty <virtio port>` (boot.py --gdb, lab/gdb_live.py)
#   phase pv-sched  the 2-vCPU PV guest: the stop is reported on the vCPU
#                   that hit the breakpoint, 40 stepi checked against gdb's
#                   own disassembly, scheduler-locking (one vCPU steps or
#                   runs, the other stays paused), Ctrl-C reported on the
#                   thread gdb selected;
#   phase hvm       the PVH guest: registers (= xenctx), memory through its
#                   own page tables (banner = its console's), a register
#                   write, breakpoint, 40 checked stepi, continue, Ctrl-C.
# After each detach the guest must run on (console ticks).
out=$1; . /lab/common.sh
set -x
port=
for p in /sys/class/virtio-ports/*; do
  [ "$(cat $p/name 2>/dev/null)" = xenscope.gdb ] && port=/dev/$(basename $p)
done
[ -n "$port" ] && [ -e "$port" ] || { echo "no virtio port named xenscope.gdb (boot.py --gdb, virtio_console)"; exit 1; }
sym() { awk -v s="$1" '$3 == s { print $1; exit }' /results/kallsyms; }
first_sym() { for f in "$@"; do a=$(sym $f); [ -n "$a" ] && { echo "$f@$a"; return; }; done; }
ticks() { grep -c 'XENSCOPE-DOMU: tick' /var/log/xen/console/guest-$1.log; }
wait_gone() {
  i=0; while kill -0 $1 2>/dev/null && [ $i -lt $2 ]; do sleep 1; i=$((i+1)); done
  kill -0 $1 2>/dev/null && { echo "pid $1 still running after $2 s: killing"; kill $1; sleep 1; kill -9 $1 2>/dev/null; }
  wait $1; echo "pid $1 exit=$?"
}
wait_paused() {   # wait_paused NAME
  i=0; while [ $i -lt 60 ]; do
    xl list $1 | awk 'NR == 2 { print $5 }' | grep -q p && return 0
    sleep 1; i=$((i+1))
  done
  return 1
}
after_detach() {   # after_detach NAME: not paused, console ticks advance
  xl list > $out/xl-list-$1-detached.txt
  t1=$(ticks $1); sleep 11; t2=$(ticks $1)
  echo "ticks_after_detach=$t1 ticks_11s_later=$t2" > $out/after-detach-$1.txt
}
banner=$(sym linux_banner); jiffies=$(sym jiffies_64)
bp_pv=$(first_sym xen_evtchn_do_upcall __xen_evtchn_do_upcall xen_pv_evtchn_do_upcall __schedule)
# A PVH guest's events arrive on the HVM callback vector.
bp_hvm=$(first_sym xen_hvm_evtchn_do_upcall sysvec_xen_hvm_callback __xen_evtchn_do_upcall __schedule)
echo "linux_banner=$banner jiffies_64=$jiffies bp_pv=$bp_pv bp_hvm=$bp_hvm" > $out/facts.txt

# The PVH guest boots slowly under nested paging in TCG: start it first, in
# the background, and the PV guest meanwhile.
( start_guest pvh; echo "start_guest pvh rc=$?" ) > $out/start-pvh.txt 2>&1 &
starter=$!
start_guest pv || exit 1
sleep 2

# ---- phase "pv-sched" ----
dom=$(retry xl domid pv)
xenscope gdbstub --domain $dom --tty $port --once > $out/stub-pv.log 2>&1 &
stub=$!
wait_paused pv || echo "pv never paused by the stub"
say "gdb phase=pv-sched domid=$dom vcpus=2 bp=${bp_pv#*@} steps=40"
wait_gone $stub 900
after_detach pv

# ---- phase "hvm" ----
wait $starter; cat $out/start-pvh.txt
grep -q "rc=0" $out/start-pvh.txt || { echo "the PVH guest did not come up"; exit 1; }
dom=$(retry xl domid pvh)
xenscope gdbstub --domain $dom --tty $port --once > $out/stub-pvh.log 2>&1 &
stub=$!
wait_paused pvh || echo "pvh never paused by the stub"
retry xenctx -a -s /results/kallsyms $dom 0 > $out/xenctx-pvh-vcpu0.txt 2>&1
xl list > $out/xl-list-pvh-paused.txt
say "gdb phase=hvm domid=$dom vcpus=1 banner=$banner bp=${bp_hvm#*@} jiffies=$jiffies steps=40"
wait_gone $stub 900
after_detach pvh
cp /var/log/xen/console/guest-pv.log /var/log/xen/console/guest-pvh.log $out/

# Scenario "gdb-hvm-break" (profile hvmbreak, make lab only; self-built Xen
# with CONFIG_GDBSX on a CPU with HAP, under the newer QEMU from
# bookworm-backports, lab/fetch-qemu.sh): HVM breakpoints on the PVH guest
# through `xenscope gdbstub --domain N --tty <virtio port>` and the host's gdb
#   phase hvm-hbreak  `hbreak` (Z1, debug registers) on a function the guest
#                     runs on every event upcall: the stop, its thread, rip;
#                     `continue` to it again; `delete`; continue, Ctrl-C;
#                     detach; then the guest must run on (console ticks);
#   phase hvm-int3    `break` (Z0, int3 planted by the stub) on the same
#                     function, last because the guest may die of it: QEMU's
#                     TCG checks a nested guest's int3 against the
#                     software-interrupt intercept, not #BP (docs/gdbstub.md).
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
wait_paused() {
  i=0; while [ $i -lt 60 ]; do
    xl list $1 | awk 'NR == 2 { print $5 }' | grep -q p && return 0
    sleep 1; i=$((i+1))
  done
  return 1
}
jiffies=$(sym jiffies_64)
# A PVH guest's events (its timer too) arrive on the HVM callback vector.
bp=$(first_sym sysvec_xen_hvm_callback xen_hvm_evtchn_do_upcall __xen_evtchn_do_upcall __schedule)
echo "jiffies_64=$jiffies bp_hvm=$bp" > $out/facts.txt

start_guest pvh || exit 1
dom=$(retry xl domid pvh)

# ---- phase "hvm-hbreak" ----
xenscope gdbstub --domain $dom --tty $port --once > $out/stub-hbreak.log 2>&1 &
stub=$!
wait_paused pvh || echo "pvh never paused by the stub"
say "gdb phase=hvm-hbreak domid=$dom vcpus=1 bp=${bp#*@} jiffies=$jiffies"
wait_gone $stub 900
xl list > $out/xl-list-hbreak-detached.txt
t1=$(ticks pvh); sleep 11; t2=$(ticks pvh)
echo "ticks_after_detach=$t1 ticks_11s_later=$t2" > $out/after-detach-hbreak.txt

# ---- phase "hvm-int3" ----
xenscope gdbstub --domain $dom --tty $port --once > $out/stub-int3.log 2>&1 &
stub=$!
wait_paused pvh || echo "pvh never paused by the stub"
say "gdb phase=hvm-int3 domid=$dom vcpus=1 bp=${bp#*@} jiffies=$jiffies"
wait_gone $stub 900
xl list > $out/xl-list-int3-detached.txt
t1=$(ticks pvh); sleep 11; t2=$(ticks pvh)
echo "ticks_after_detach=$t1 ticks_11s_later=$t2" > $out/after-detach-int3.txt
cp /var/log/xen/console/guest-pvh.log $out/
xl dmesg > $out/xl-dmesg.txt 2>&1
true

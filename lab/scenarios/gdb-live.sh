# Scenario "gdb-live": the host's real gdb debugs the running PV guest through
# `xenscope gdbstub --domain N --tty <virtio port>` (boot.py --gdb bridges the
# port "xenscope.gdb" to the host's loopback and runs lab/gdb_live.py for each
# "gdb phase=" marker). xenctx takes both vCPUs' registers while the stub
# holds the guest paused, so gdb's `info registers` can be compared with it;
# after gdb detaches, the guest must run on (console ticks, vCPU time).
# Scenario "gdb-perf" (lab/scenarios/gdb-perf.sh, the make-lab-only gdbperf
# profile on the self-built Xen) sources this with mode=perf: a 64 MiB read
# and timed stepi through our stub and through Xen's own gdbsx, behind the
# same nc relay, one after the other.
out=$1; . /lab/common.sh
mode=${mode:-live}
set -x
port=
for p in /sys/class/virtio-ports/*; do
  [ "$(cat $p/name 2>/dev/null)" = xenscope.gdb ] && port=/dev/$(basename $p)
done
[ -n "$port" ] && [ -e "$port" ] || { echo "no virtio port named xenscope.gdb (boot.py --gdb, virtio_console)"; exit 1; }
xl list | grep -q '^pv ' || start_guest pv || exit 1
sleep 2
dom=$(retry xl domid pv)
sym() { awk -v s="$1" '$3 == s { print $1; exit }' /results/kallsyms; }
banner=$(sym linux_banner); pob=$(sym page_offset_base); jiffies=$(sym jiffies_64)
# A kernel function every vCPU runs often (event-channel upcalls: timer ticks).
for f in xen_evtchn_do_upcall __xen_evtchn_do_upcall xen_pv_evtchn_do_upcall __schedule; do
  bp=$(sym $f); [ -n "$bp" ] && { bpname=$f; break; }
done
# The guest's own kprobe (selfbuilt: lab/domU/init), as its console named it: FUNC+OFF.
kp=
site=$(sed -n 's/^XENSCOPE-DOMU: kprobe \([a-z_]*\)+\([0-9]*\) .*/\1 \2/p' /var/log/xen/console/guest-pv.log | head -1)
if [ -n "$site" ]; then
  set -- $site; base=$(sym $1)
  # Low 32 bits only: ash's arithmetic is signed 64-bit (kernel text does not cross 4 GiB here).
  [ -n "$base" ] && kp=${base%????????}$(printf '%08x' $((0x${base#????????} + $2)))
fi
echo "dom=$dom port=$port linux_banner=$banner page_offset_base=$pob jiffies_64=$jiffies bp=$bpname@$bp kprobe=$kp" > $out/facts.txt
console=/var/log/xen/console/guest-pv.log
ticks() { grep -c 'XENSCOPE-DOMU: tick' $console; }

# wait_gone PID SECONDS: wait (bounded) for a background process to end.
wait_gone() {
  i=0; while kill -0 $1 2>/dev/null && [ $i -lt $2 ]; do sleep 1; i=$((i+1)); done
  kill -0 $1 2>/dev/null && { echo "pid $1 still running after $2 s: killing"; kill $1; sleep 1; kill -9 $1 2>/dev/null; }
  wait $1; echo "pid $1 exit=$?"
}

# wait_paused: until the domain shows paused ("p" in xl list's state), bounded.
wait_paused() {
  i=0; while [ $i -lt 60 ]; do
    xl list pv | awk 'NR == 2 { print $5 }' | grep -q p && return 0
    sleep 1; i=$((i+1))
  done
  return 1
}

# ---- phase "stub": features, over the virtio port itself ----
if [ $mode = live ]; then
xenscope gdbstub --domain $dom --tty $port --once > $out/stub.log 2>&1 &
stub=$!
wait_paused || echo "domain never paused by the stub"
for v in 0 1; do retry xenctx -a -s /results/kallsyms $dom $v > $out/xenctx-vcpu$v.txt 2>&1; done
xl list > $out/xl-list-paused.txt
gdbsx=0; grep -q "hypervisor has CONFIG_GDBSX" $out/stub.log && gdbsx=1
say "gdb phase=stub domid=$dom vcpus=2 banner=$banner bp=$bp gdbsx=$gdbsx pob=$pob jiffies=$jiffies${kp:+ kp=$kp}"
wait_gone $stub 600
# Detach must leave the guest running: state, console ticks and vCPU time advance.
xl list > $out/xl-list-detached.txt
xl vcpu-list pv > $out/vcpu-list-1.txt
t1=$(ticks)
sleep 11
xl vcpu-list pv > $out/vcpu-list-2.txt
t2=$(ticks)
echo "ticks_after_detach=$t1 ticks_11s_later=$t2" > $out/after-detach.txt
# The debug registers gdb used are cleared again (xenctx -a prints dr0–dr3, dr6, dr7).
for v in 0 1; do retry xenctx -a $dom $v > $out/xenctx-detached-vcpu$v.txt 2>&1; done
fi

# ---- phases "perf-stub" / "perf-gdbsx" (needs CONFIG_GDBSX and gdbsx) ----
if [ $mode = perf ]; then
  [ -x /usr/local/bin/gdbsx ] || { echo "no gdbsx in the image (lab/build-gdbsx.sh)"; exit 1; }
  start=ffff888001000000   # 16 MiB into the PV direct map (page_offset_base is checked in phase stub)
  # Both servers listen on dom0's loopback (the initramfs leaves lo down);
  # busybox nc joins the port to them: one open, both directions (a virtio
  # port admits one opener). The host is told only once the relay is up.
  ip link set lo up || ifconfig lo 127.0.0.1 up
  perf() {   # perf NAME PORT SERVER-PID
    i=0; while ! netstat -ltn | grep -q ":$2 " && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done
    nc 127.0.0.1 $2 <> $port >&0 &
    r=$!; sleep 2
    if kill -0 $3 && kill -0 $r; then
      say "gdb phase=$1 domid=$dom start=$start mb=64 steps=20 bp=$bp text=$(sym _text)"
      wait_gone $3 900
    else
      echo "phase $1: server or relay not running"; kill $3
    fi
    wait_gone $r 30
  }
  xenscope gdbstub --domain $dom --listen 127.0.0.1:9100 --once > $out/perf-stub.log 2>&1 &
  perf perf-stub 9100 $!
  gdbsx -a $dom 64 9101 > $out/perf-gdbsx.log 2>&1 &
  perf perf-gdbsx 9101 $!
  xl list > $out/xl-list-after-perf.txt
fi
cp $console $out/guest-console.log

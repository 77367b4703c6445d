# Scenario "selfbuilt" (make lab only): on the hypervisor built from Debian's
# source with GDBSX/DEBUG_INFO/FRAME_POINTER, the same Debian dom0 userland
# runs: record its build-id and version, boot the PV guest, take a short
# scheduler trace and a guest dump-core. The guest arms a kprobe of its
# own (lab/domU/init, xenscope.kprobe): int3s the gdb-live scenario's
# debugger must hand back to it.
out=$1; . /lab/common.sh
set -x
xl info > $out/xl-info.txt
start_guest pv 'extra="console=hvc0 rdinit=/init xenscope.kprobe"' || exit 1
retry timeout 40 xentrace -D -S 8 -e 0x0002f000 -T 4 $out/sched.xentrace
echo "xentrace rc=$?"
retry xl pause pv
for v in 0 1; do retry xenctx -a -s /results/kallsyms $(xl domid pv) $v > $out/xenctx-vcpu$v.txt 2>&1; done
retry timeout 300 xl dump-core pv $out/pv.core
echo "dump-core rc=$?"
retry xl unpause pv
ls -l $out

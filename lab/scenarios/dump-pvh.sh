# Scenario "dump-pvh" (make lab only: very slow under TCG): same as dump-pv
# for a PVH guest; the dump is bounded and may be truncated.
out=$1; . /lab/common.sh
set -x
xl list | grep -q '^pvh ' || start_guest pvh || exit 1
sleep 3
domid=$(retry xl domid pvh)
echo $domid > $out/domid
retry xl pause pvh
for v in 0; do retry xenctx -a -s /results/kallsyms $domid $v > $out/xenctx-vcpu$v.txt 2>&1; done
xl debug-keys q
xl dmesg > $out/debug-keys-q.txt 2>&1
xl list -l pvh > $out/xl-list-l.txt 2>&1
# Not under `retry`: busybox's timeout exits 143 (SIGTERM) when it fires, and
# a rerun would start the dump over. The file's size is sampled every 10 s
# (dump-core-progress.txt) to show where the time goes.
t0=$(date +%s)
timeout ${PVH_DUMP_SECONDS:-240} xl -vvv dump-core pvh $out/pvh.core 2> $out/dump-core-stderr.txt &
dpid=$!
while kill -0 $dpid 2>/dev/null; do
  echo "$(( $(date +%s) - t0 )) $(stat -c %s $out/pvh.core 2>/dev/null || echo 0)" >> $out/dump-core-progress.txt
  sleep 10
done
wait $dpid
echo "dump-core rc=$? seconds=$(( $(date +%s) - t0 ))" | tee $out/dump-core-rc.txt
retry xl unpause pvh
cp /var/log/xen/console/guest-pvh.log $out/guest-console.log
ls -l $out

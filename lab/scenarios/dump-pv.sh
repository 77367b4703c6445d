# Scenario "dump-pv": registers of a paused PV guest (xenctx, xl debug-keys)
# and then `xl dump-core` of it, still paused, so both describe one state.
out=$1; . /lab/common.sh
set -x
xl list | grep -q '^pv ' || start_guest pv || exit 1
sleep 3
domid=$(retry xl domid pv)
echo $domid > $out/domid
retry xl pause pv
for v in 0 1; do retry xenctx -a -s /results/kallsyms $domid $v > $out/xenctx-vcpu$v.txt 2>&1; done
xl debug-keys q
xl dmesg > $out/debug-keys-q.txt 2>&1
retry timeout 300 xl dump-core pv $out/pv.core
echo "dump-core rc=$?"
retry xl unpause pv
cp /var/log/xen/console/guest-pv.log $out/guest-console.log
ls -l $out

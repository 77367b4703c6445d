# Scenario "record-opts" (ci profile, right after "traces", ≈ 20 s):
# `xenscope trace record --xen`'s -X, -x and -M on Xen's real trace buffers.
# The PV guest "traces" started is still running; its last recording left
# tracing disabled.
out=$1; . /lab/common.sh
set -x
# rec NAME ARGS…: one bounded recording of every event class; rc to rcs.txt.
# (not $n: retry counts with it)
rec() {
  name=$1; shift
  rm -f $out/$name.xenscope $out/$name.xenscope.meta.json
  retry timeout 60 xenscope trace record --xen --event 0x0ffff000 --json "$@" -o $out/$name.xenscope > $out/$name.json 2> $out/$name.err
  echo "$name rc=$?" >> $out/rcs.txt
}
# -X does not enable tracing (and "traces" left it off): (almost) nothing
# arrives (-D drops what the rings held).
rec off1 -X -D -T 2
# -x: this recording enables tracing and leaves it on at exit, so the rings
# fill while nobody reads them …
rec on -x -D -T 2
sleep 2
# … and the next recording (no -D) finds those records. Like xentrace's -X, it
# enables tracing only to obtain the buffers and disables it at once (Xen
# has no other way to hand them out), so from then on nothing arrives …
rec after -X -T 2
sleep 2
# … as the next -X recording shows.
rec off2 -X -D -T 2
# -M: a 64 KiB flight recorder over 5 s of dom0 load (megabytes of records),
# and xentrace's own -M beside it (Debian's 4.17 xentrace may abort with
# "membuf_reserve_window: INTERNAL ERROR: no cpu_change record at consumer!"
# when a CPU-change record would straddle its buffer's end).
start_load
rec fr -D -M 64k -T 5
rm -f $out/fr.xentrace
retry timeout 60 xentrace -D -M 64k -e 0x0ffff000 -T 5 $out/fr.xentrace > $out/fr-xentrace.log 2>&1
echo "xentrace-fr rc=$?" >> $out/rcs.txt
stop_load
ls -l $out

# Scenario "gdb-perf" (profile gdbperf, make lab only): our stub and Xen's
# gdbsx on the same PV guest, one after the other (see gdb-live.sh).
mode=perf
. /lab/gdb-live.sh

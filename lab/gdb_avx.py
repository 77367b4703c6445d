# Sourced into the host's gdb by lab/gdb_live.py (phase avx): settles the
# stop inside the guest's ymm checker and prints its vector registers as
# "@@..." lines for Tests/LabExtraTests/LabGDBAVXTests.swift. Runs inside gdb's Python.
import gdb

MASK = (1 << 64) - 1


def avx_settle(lo, hi, tries):
    """Until the vCPU stops in user mode inside avxcheck's spin [lo, hi):
    continue and Ctrl-C (the "@@continue ctrl-c" marker makes gdb_live.py
    send SIGINT); "@@avx settled try=N pc=… cs=…" or "@@avx unsettled"."""
    for k in range(tries):
        pc = int(gdb.parse_and_eval("$pc")) & MASK
        cs = int(gdb.parse_and_eval("$cs")) & 0xffff
        if lo <= pc < hi and cs & 3 == 3:
            print("@@avx settled try=%d pc=%x cs=%x" % (k, pc, cs))
            return
        gdb.execute("echo \\n@@continue ctrl-c avx try %d\\n" % k)
        gdb.execute("continue")
    print("@@avx unsettled")


def avx_dump(tag):
    """"@@ymm TAG N d0 … d7" (gdb's $ymmN.v8_int32, hex) and
    "@@ymmh TAG N hex128" ($ymmNh) for N = 0–15, read from the target."""
    gdb.execute("maintenance flush register-cache")
    for n in range(16):
        lanes = gdb.parse_and_eval("$ymm%d" % n)["v8_int32"]
        print("@@ymm %s %d %s" % (tag, n, " ".join("%08x" % (int(lanes[j]) & 0xffffffff) for j in range(8))))
        # A uint128 has no Python int conversion in gdb 13: its p/x text.
        h = gdb.execute("output/x $ymm%dh" % n, to_string=True).strip()
        print("@@ymmh %s %d %032x" % (tag, n, int(h, 16)))

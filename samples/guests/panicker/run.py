#!/usr/bin/env python3
"""Boots the panicker guest under QEMU (TCG), waits for its panic line on the
serial port, and dumps its memory over QMP: ELF without paging (physical
only), ELF with paging (virtual addresses filled, for gdb), kdump-zlib.

usage: run.py OUTDIR   (OUTDIR holds kernel.bin from build.sh)
Writes OUTDIR/serial.log, dump.elf, dump-paging.elf, dump.kdump.
Every wait is bounded; QEMU is always killed at the end (../qemu_guest.py)."""
import os, sys, time
sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from qemu_guest import QemuGuest

out = os.path.abspath(sys.argv[1])
argv = ["qemu-system-x86_64", "-accel", "tcg", "-smp", "2", "-m", "64M", "-cpu", "qemu64,+pdpe1gb",
        "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
        "-kernel", os.path.join(out, "kernel.bin")]
with QemuGuest(out, argv, name="panicker", timeout=float(os.environ.get("PANICKER_TIMEOUT", "60"))) as g:
    g.remove("dump.elf", "dump-paging.elf", "dump.kdump")
    g.wait_serial("CPU 1 halted.")
    time.sleep(0.2)  # let the other CPU reach its halt
    g.qmp("stop")
    g.dump("dump.elf", paging=False)
    g.dump("dump-paging.elf", paging=True)
    g.dump("dump.kdump", paging=False, format="kdump-zlib")
    g.quit()

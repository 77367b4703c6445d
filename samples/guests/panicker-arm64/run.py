#!/usr/bin/env python3
"""Boots the arm64 panicker guest under qemu-system-aarch64 (virt board,
cortex-a57, TCG), waits for its panic on the PL011 UART, and dumps it over
QMP: ELF (physical addresses; QEMU cannot write paging dumps for arm) and
kdump-zlib when QEMU supports it for aarch64. Then writes dump-gdb.elf: a
copy of the ELF dump whose RAM segment carries the guest's higher-half
virtual address (p_vaddr), the only way gdb, which reads a core by p_vaddr,
can see the kernel's stack.

usage: run.py OUTDIR   (OUTDIR holds kernel.elf from build.sh)
Writes OUTDIR/serial.log, dump.elf, dump.kdump (if supported), dump-gdb.elf.
Every wait is bounded; QEMU is always killed at the end (../qemu_guest.py)."""
import os, shutil, struct, sys, time
sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from qemu_guest import QemuGuest

KERNEL_VBASE = 0xffff000000000000
out = os.path.abspath(sys.argv[1])
argv = ["qemu-system-aarch64", "-accel", "tcg", "-machine", "virt", "-cpu", "cortex-a57", "-smp", "2", "-m", "128M",
        "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
        "-kernel", os.path.join(out, "kernel.elf")]
with QemuGuest(out, argv, name="panicker-arm64", timeout=float(os.environ.get("PANICKER_TIMEOUT", "60"))) as g:
    g.remove("dump.elf", "dump.kdump", "dump-gdb.elf")
    g.wait_serial("CPU 0 halted.")
    time.sleep(0.2)  # let the CPU reach its wfi loop
    g.qmp("stop")
    g.dump("dump.elf", paging=False)
    if "kdump-zlib" in g.dump_formats():
        g.dump("dump.kdump", paging=False, format="kdump-zlib")
    g.quit()

# dump-gdb.elf: same bytes, p_vaddr of each PT_LOAD at or above the RAM base
# set to its higher-half alias (boot.S maps RAM linearly at KERNEL_VBASE + pa).
src, dst = os.path.join(out, "dump.elf"), os.path.join(out, "dump-gdb.elf")
shutil.copyfile(src, dst)
with open(dst, "r+b") as d:
    h = d.read(64)
    phoff, = struct.unpack_from("<Q", h, 32)
    phentsize, phnum = struct.unpack_from("<HH", h, 54)
    for i in range(phnum):
        d.seek(phoff + i * phentsize)
        ph = d.read(phentsize)
        p_type, = struct.unpack_from("<I", ph, 0)
        paddr, = struct.unpack_from("<Q", ph, 24)
        if p_type == 1 and paddr >= 0x40000000:
            d.seek(phoff + i * phentsize + 16)
            d.write(struct.pack("<Q", KERNEL_VBASE + paddr))

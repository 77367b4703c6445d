#!/usr/bin/env python3
"""Boots Debian trixie's kernel with the busybox initramfs under QEMU TCG
(1 GiB, 2 vCPUs, -device vmcoreinfo), waits for the sysrq-c panic on the
serial port, and dumps the guest over QMP: ELF without paging and
kdump-zlib (flattened).

usage: run.py OUTDIR VMLINUZ INITRD
Writes OUTDIR/serial.log, dump.elf, dump.kdump. Every wait is bounded
(LINUX_GUEST_TIMEOUT, default 600 s); QEMU is always ended (../qemu_guest.py)."""
import os, sys, time
sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from qemu_guest import QemuGuest

out, vmlinuz, initrd = (os.path.abspath(a) for a in sys.argv[1:4])
argv = ["qemu-system-x86_64", "-accel", "tcg", "-smp", "2", "-m", "1G",
        "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults", "-device", "vmcoreinfo",
        "-kernel", vmlinuz, "-initrd", initrd, "-append", "console=ttyS0 ignore_loglevel panic=0"]
with QemuGuest(out, argv, name="linux trixie guest", timeout=float(os.environ.get("LINUX_GUEST_TIMEOUT", "600"))) as g:
    g.remove("dump.elf", "dump.kdump")
    # The end marker comes after smp_send_stop(), so the other CPU is stopped.
    g.wait_serial("---[ end Kernel panic", poll=0.2)
    time.sleep(1)
    g.qmp("stop")
    g.dump("dump.elf", paging=False, format="elf")
    g.dump("dump.kdump", paging=False, format="kdump-zlib")
    g.quit()

#!/usr/bin/env python3
"""Boots Debian's arm64 kernel with the busybox initramfs under
qemu-system-aarch64 TCG (virt, cortex-a57, 2 vCPUs, 1 GiB, -device
vmcoreinfo; KASLR on: QEMU gives the kernel a seed), waits for the sysrq-c
panic on the serial port, and dumps the guest over QMP: ELF (physical
addresses only: QEMU writes no paging dumps for arm) and kdump-zlib.

usage: run.py OUTDIR VMLINUZ INITRD
Writes OUTDIR/serial.log, dump.elf, dump.kdump. Every wait is bounded
(LINUX_GUEST_TIMEOUT, default 600 s); QEMU is always ended (../qemu_guest.py)."""
import os, sys, time
sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from qemu_guest import QemuGuest

out, vmlinuz, initrd = (os.path.abspath(a) for a in sys.argv[1:4])
argv = ["qemu-system-aarch64", "-accel", "tcg", "-machine", "virt", "-cpu", "cortex-a57", "-smp", "2", "-m", "1G",
        "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults", "-device", "vmcoreinfo",
        "-kernel", vmlinuz, "-initrd", initrd, "-append", "console=ttyAMA0 ignore_loglevel panic=0"]
with QemuGuest(out, argv, name="linux-arm64 guest", timeout=float(os.environ.get("LINUX_GUEST_TIMEOUT", "600"))) as g:
    g.remove("dump.elf", "dump.kdump")
    # The end marker comes after smp_send_stop(), so the other CPU is parked.
    g.wait_serial("---[ end Kernel panic", poll=0.2)
    time.sleep(1)
    g.qmp("stop")
    g.dump("dump.elf")
    g.dump("dump.kdump", format="kdump-zlib")
    g.quit()

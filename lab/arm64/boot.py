#!/usr/bin/python3
"""Boots Debian's arm64 Xen + dom0 under qemu-system-aarch64 (TCG), lets
dom0's /init run the named scenarios, and copies their results (a tar stream
on a raw virtio disk) into OUT. With --crash, once dom0 has written its
results it crashes itself through Xen (SHUTDOWN_crash); Xen, booted with
`noreboot`, halts the machine (PSCI SYSTEM_OFF), QEMU (-no-shutdown) pauses
instead of exiting, and the host takes QEMU's whole-machine dumps over QMP.

Xen is QEMU's -kernel; dom0's kernel and initramfs go in with QEMU's
guest-loader device, which also writes the /chosen module nodes Xen reads
(no firmware, no device-tree editing). Every boot is bounded by --timeout and
always kills its QEMU. No networking: the only socket is QMP's unix socket.
"""
import os, sys, time

sys.dont_write_bytecode = True   # no __pycache__ in lab/ (stamp.sh hashes its files)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from qemu_lab import LabBoot, boot_arguments  # the lab's QMP client, serial watcher and boot run (lab/qemu_lab.py)

XEN_ARGS = ("console=dtuart dom0_mem=768M,max:768M dom0_max_vcpus=2 "
            "loglvl=all guest_loglvl=all console_to_ring conring_size=1M")
DOM0_ARGS = "console=hvc0 earlycon=xen rdinit=/init"
# Clear of 0x48000000, where QEMU puts its device tree with 2 GiB of RAM
# (Xen hits a BUG in free_heap_pages when a module overlaps it: xen-lab.md).
KERNEL_ADDR, INITRD_ADDR = 0x42000000, 0x49000000


def main():
    ap = boot_arguments(__doc__, "Xen arm64 Image", "dom0 arm64 Image", disk_mb=512)
    ap.add_argument("--crash", action="store_true", help="crash dom0 with Xen's noreboot, dump the halted machine")
    a = ap.parse_args()

    boot = LabBoot(a.out, a.disk_mb, who="arm64/boot.py")
    xen_args = XEN_ARGS + (" noreboot" if a.crash else "")
    dom0_args = f"{DOM0_ARGS} xenscope.scenarios={a.scenarios}" + (" xenscope.after=crash" if a.crash else "")
    qemu = ["qemu-system-aarch64", "-accel", "tcg", "-machine", "virt,virtualization=on,gic-version=3",
            "-cpu", "cortex-a57", "-smp", "2", "-m", str(a.mem_mb), "-nodefaults", "-nic", "none",
            "-display", "none", "-no-reboot", "-no-shutdown", *boot.qemu_io_args(),
            "-drive", f"file={boot.disk},format=raw,if=none,id=results",
            "-device", "virtio-blk-device,drive=results",
            "-kernel", a.xen, "-append", xen_args,
            "-device", f"guest-loader,addr={KERNEL_ADDR:#x},kernel={a.kernel},bootargs={dom0_args}",
            "-device", f"guest-loader,addr={INITRD_ADDR:#x},initrd={a.initrd}"]
    facts = {"scenarios": a.scenarios, "xen_args": xen_args, "dom0_args": dom0_args, "events": {}}

    def scenario(b):
        b.wait_for_dom0()
        if a.crash:
            if not b.wait(r"XENSCOPE-LAB: results written"):
                raise RuntimeError("dom0 never reported its results written")
            b.mark("results written")
            if not b.wait(r"'noreboot' set - not rebooting"):
                raise RuntimeError("Xen did not report the dom0 crash on the serial console")
            b.mark("dom0 crash seen")
            # Xen halts: the other CPUs stop, then PSCI SYSTEM_OFF, which
            # -no-shutdown turns into a stopped VM instead of an exit.
            while b.qmp.cmd("query-status")["status"] not in ("shutdown", "paused") and time.time() < b.deadline:
                time.sleep(0.2)
            b.mark("machine halted")
            b.machine_dumps(["elf", "kdump-zlib"], status=True)

    return boot.run(qemu, facts, a.timeout, scenario)


if __name__ == "__main__":
    sys.exit(main())

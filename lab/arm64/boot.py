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
import argparse, json, os, signal, subprocess, sys, tarfile, time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from boot import QMP, wait_for  # the x86 lab's QMP client and serial watcher (lab/boot.py)

XEN_ARGS = ("console=dtuart dom0_mem=768M,max:768M dom0_max_vcpus=2 "
            "loglvl=all guest_loglvl=all console_to_ring conring_size=1M")
DOM0_ARGS = "console=hvc0 earlycon=xen rdinit=/init"
# Clear of 0x48000000, where QEMU puts its device tree with 2 GiB of RAM
# (Xen hits a BUG in free_heap_pages when a module overlaps it: xen-lab.md).
KERNEL_ADDR, INITRD_ADDR = 0x42000000, 0x49000000


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--xen", required=True, help="Xen arm64 Image")
    ap.add_argument("--kernel", required=True, help="dom0 arm64 Image")
    ap.add_argument("--initrd", required=True, help="dom0 initramfs")
    ap.add_argument("--scenarios", required=True, help="scenario names joined by '+'")
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=int, default=900, help="seconds for the whole boot")
    ap.add_argument("--crash", action="store_true", help="crash dom0 with Xen's noreboot, dump the halted machine")
    ap.add_argument("--disk-mb", type=int, default=512)
    ap.add_argument("--mem-mb", type=int, default=2048)
    a = ap.parse_args()

    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    serial = os.path.join(out, "serial.log")
    disk = os.path.join(out, "results.img")
    qmp_path = os.path.join(out, "qmp.sock")
    for p in (serial, disk, qmp_path):
        if os.path.exists(p):
            os.unlink(p)
    with open(disk, "wb") as f:
        f.truncate(a.disk_mb << 20)

    xen_args = XEN_ARGS + (" noreboot" if a.crash else "")
    dom0_args = f"{DOM0_ARGS} xenscope.scenarios={a.scenarios}" + (" xenscope.after=crash" if a.crash else "")
    qemu = ["qemu-system-aarch64", "-accel", "tcg", "-machine", "virt,virtualization=on,gic-version=3",
            "-cpu", "cortex-a57", "-smp", "2", "-m", str(a.mem_mb), "-nodefaults", "-nic", "none",
            "-display", "none", "-no-reboot", "-no-shutdown",
            "-serial", f"file:{serial}", "-qmp", f"unix:{qmp_path},server=on,wait=off",
            "-drive", f"file={disk},format=raw,if=none,id=results",
            "-device", "virtio-blk-device,drive=results",
            "-kernel", a.xen, "-append", xen_args,
            "-device", f"guest-loader,addr={KERNEL_ADDR:#x},kernel={a.kernel},bootargs={dom0_args}",
            "-device", f"guest-loader,addr={INITRD_ADDR:#x},initrd={a.initrd}"]
    with open(os.path.join(out, "qemu-cmdline.txt"), "w") as f:
        f.write(" ".join(qemu) + "\n")
    facts = {"scenarios": a.scenarios, "xen_args": xen_args, "dom0_args": dom0_args, "events": {}}
    t0 = time.time()
    deadline = t0 + a.timeout
    log = open(os.path.join(out, "qemu-stderr.txt"), "wb")
    proc = subprocess.Popen(qemu, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ok = True

    def mark(name):
        facts["events"][name] = round(time.time() - t0, 1)
        print(f"[{facts['events'][name]:7.1f} s] {name}", flush=True)

    try:
        qmp = QMP(qmp_path, deadline)
        for name, rx in (("xen banner", r"Xen version 4\.\d+"), ("dom0 init", r"XENSCOPE-LAB: toolstack up")):
            if wait_for(serial, rx, deadline, proc):
                mark(name)
        if a.crash:
            if not wait_for(serial, r"XENSCOPE-LAB: results written", deadline, proc):
                raise RuntimeError("dom0 never reported its results written")
            mark("results written")
            if not wait_for(serial, r"'noreboot' set - not rebooting", deadline, proc):
                raise RuntimeError("Xen did not report the dom0 crash on the serial console")
            mark("dom0 crash seen")
            # Xen halts: the other CPUs stop, then PSCI SYSTEM_OFF, which
            # -no-shutdown turns into a stopped VM instead of an exit.
            while qmp.cmd("query-status")["status"] not in ("shutdown", "paused") and time.time() < deadline:
                time.sleep(0.2)
            mark("machine halted")
            qmp.cmd("stop")
            with open(os.path.join(out, "info-registers.txt"), "w") as f:
                f.write(qmp.hmp("info registers -a"))
            with open(os.path.join(out, "query-status.json"), "w") as f:
                json.dump(qmp.cmd("query-status"), f)
            for fmt, name in (("elf", "machine.elf"), ("kdump-zlib", "machine.kdump")):
                p = os.path.join(out, name)
                qmp.cmd("dump-guest-memory", paging=False, protocol=f"file:{p}", format=fmt)
                mark(f"dump {fmt} done")
            qmp.cmd("quit")
        proc.wait(timeout=max(1, deadline - time.time()))
        mark("qemu exited")
    except Exception as e:  # report, clean up, still collect what exists
        ok = False
        facts["error"] = str(e)
        print(f"arm64/boot.py: {e}", file=sys.stderr)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            mark("qemu killed")
    facts["seconds"] = round(time.time() - t0, 1)
    try:
        with tarfile.open(disk, "r:") as t:
            if not t.getmembers():
                raise tarfile.TarError("empty")
            t.extractall(os.path.join(out, "results"))
        os.unlink(disk)
    except tarfile.TarError as e:
        ok = False
        facts["error"] = facts.get("error", "") + f" results disk holds no tar stream: {e}"
        print(f"arm64/boot.py: results disk holds no tar stream ({e}); serial log: {serial}", file=sys.stderr)
    with open(os.path.join(out, "boot.json"), "w") as f:
        json.dump(facts, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

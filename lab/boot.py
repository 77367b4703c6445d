#!/usr/bin/python3
"""Boots Xen + dom0 under qemu-system-x86_64 (TCG), lets dom0's /init run the
named scenarios, and copies their results (a tar stream on a raw virtio disk)
into OUT. With --nmi, once dom0 has written its results the host injects an
NMI into the hypervisor (booted with nmi=fatal noreboot), waits for the panic
on the serial console and takes QEMU's whole-machine dumps over QMP.

Every boot is bounded by --timeout and always kills its QEMU. No networking:
the only sockets are QEMU's QMP unix socket in OUT and, with --gdb, the
live-gdb bridge on the host's loopback: a virtio-serial port in dom0
("xenscope.gdb") that QEMU joins to a 127.0.0.1 socket, relayed to a second
127.0.0.1 port where the host's gdb connects (lab/gdb_live.py runs it for each
"XENSCOPE-LAB: gdb phase=..." marker dom0 prints).
"""
import json, os, re, socket, subprocess, sys, threading, time

sys.dont_write_bytecode = True   # no __pycache__ in lab/ (stamp.sh hashes its files)
from qemu_lab import LabBoot, boot_arguments, qemu_command, qemu_version  # QMP, the serial watcher and the boot's run (lab/qemu_lab.py)

XEN_ARGS = ("console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 "
            "loglvl=all guest_loglvl=all console_to_ring conring_size=1M")
DOM0_ARGS = "console=hvc0 earlyprintk=xen rdinit=/init"
# Default CPU model: qemu64 (no HAP: PV guests only; a whole `ci` boot had no
# dom0 segfault with it). The pvh profile (lab/run.sh) passes
# LAB_CPU=qemu64,+svm,+npt: AMD SVM with nested paging, so Xen finds HAP
# while dom0 keeps qemu64's small feature set (with -cpu max,-smap,-smep dom0
# processes segfaulted now and then under TCG; docs/lab.md).
CPU = "qemu64"


def free_port():
    """An unused TCP port on 127.0.0.1 (QEMU binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GdbBridge:
    """Holds one connection to QEMU's chardev socket for the whole boot, so
    the dom0 side of the virtio port always sees a connected host (a port
    without one reads EOF), and relays it to one gdb at a time on `port`."""

    def __init__(self, qemu_port, deadline):
        while True:
            try:
                self.qemu = socket.create_connection(("127.0.0.1", qemu_port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.qemu.settimeout(None)
        self.qemu.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import select
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with client:
                while True:
                    r, _, _ = select.select([client, self.qemu], [], [])
                    if client in r:
                        data = client.recv(1 << 16)
                        if not data:
                            break
                        self.qemu.sendall(data)
                    if self.qemu in r:
                        data = self.qemu.recv(1 << 16)
                        if not data:
                            return
                        client.sendall(data)


def serve_gdb_phases(serial, until, deadline, proc, bridge, out, mark, done):
    """Runs lab/gdb_live.py for every new gdb phase marker dom0 prints, until
    `until` appears on the serial log (or QEMU exits)."""
    rx = re.compile(r"XENSCOPE-LAB: gdb phase=(\S+)( [^\r\n]*)?[\r\n]")
    stop = re.compile(until)
    while time.time() < deadline and proc.poll() is None:
        with open(serial, "rb") as f:
            text = f.read().decode("latin-1")
        for m in rx.finditer(text):
            phase = m.group(1)
            if phase in done:
                continue
            done.add(phase)
            mark(f"gdb phase {phase}")
            facts = dict(kv.split("=", 1) for kv in (m.group(2) or "").split() if "=" in kv)
            helper = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gdb_live.py"),
                      "--port", str(bridge.port), "--phase", phase, "--out", os.path.join(out, "gdb"),
                      "--facts", json.dumps(facts)]
            try:
                rc = subprocess.call(helper, timeout=max(10, min(900, deadline - time.time())))
            except subprocess.TimeoutExpired:
                rc = "timeout"
            mark(f"gdb phase {phase} done rc={rc}")
        if stop.search(text):
            return
        time.sleep(0.5)


def main():
    ap = boot_arguments(__doc__, "hypervisor image QEMU can -kernel boot", "dom0 vmlinuz", disk_mb=1536)
    ap.add_argument("--nmi", action="store_true", help="crash the hypervisor with an NMI and dump the machine")
    ap.add_argument("--dumps", default="elf,kdump-zlib",
                    help="dump-guest-memory formats taken after the NMI (elf → machine.elf, kdump-zlib → machine.kdump)")
    ap.add_argument("--xen-args", default="", help="extra hypervisor arguments")
    ap.add_argument("--gdb", action="store_true", help="bridge a virtio-serial port to the host's gdb (live-gdb scenario)")
    a = ap.parse_args()

    boot = LabBoot(a.out, a.disk_mb, who="boot.py")
    xen_args = XEN_ARGS + (" nmi=fatal noreboot" if a.nmi else "") + (" " + a.xen_args if a.xen_args else "")
    dom0_args = f"{DOM0_ARGS} xenscope.scenarios={a.scenarios}" + (" xenscope.after=nmi" if a.nmi else "")
    qemu = [*qemu_command("qemu-system-x86_64"), "-accel", "tcg", "-cpu", os.environ.get("LAB_CPU", CPU), "-machine", "q35",
            "-smp", "2", "-m", str(a.mem_mb), "-nodefaults", "-nic", "none", "-display", "none",
            "-no-reboot", *boot.qemu_io_args(),
            "-drive", f"file={boot.disk},format=raw,if=none,id=results",
            "-device", "virtio-blk-pci,drive=results",
            "-kernel", a.xen, "-append", xen_args,
            "-initrd", f"{a.kernel} {dom0_args},{a.initrd}"]
    if a.gdb:
        gdb_qemu_port = free_port()
        qemu += ["-device", "virtio-serial-pci,id=vser",
                 "-chardev", f"socket,id=gdbport,host=127.0.0.1,port={gdb_qemu_port},server=on,wait=off,nodelay=on",
                 "-device", "virtserialport,bus=vser.0,chardev=gdbport,name=xenscope.gdb"]
    facts = {"qemu": qemu_version(qemu), "scenarios": a.scenarios, "xen_args": xen_args, "dom0_args": dom0_args, "events": {}}

    def scenario(b):
        bridge = GdbBridge(gdb_qemu_port, b.deadline) if a.gdb else None
        b.wait_for_dom0()
        if bridge:
            serve_gdb_phases(b.serial, r"XENSCOPE-LAB: results written", b.deadline, b.proc, bridge, b.out, b.mark, set())
        if a.nmi:
            if not b.wait(r"XENSCOPE-LAB: ready for NMI"):
                raise RuntimeError("dom0 never reported its results written")
            b.mark("results written")
            b.qmp.cmd("inject-nmi")
            b.mark("nmi injected")
            if not b.wait(r"Panic on CPU \d+"):
                raise RuntimeError("no panic on the serial console after the NMI")
            b.wait(r"Manual reset required", min(b.deadline, time.time() + 30))
            time.sleep(1)  # let the panic text finish
            b.mark("panic seen")
            b.machine_dumps(a.dumps.split(","))

    return boot.run(qemu, facts, a.timeout, scenario)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Boots Debian's kernel with the busybox initramfs under QEMU TCG (1 GiB,
2 vCPUs, -device vmcoreinfo), waits for the sysrq-c panic on the serial port,
and dumps the guest over QMP: ELF without paging, ELF with paging (PN_XNUM),
kdump-zlib (flattened).

usage: run.py OUTDIR VMLINUZ INITRD
Writes OUTDIR/serial.log, dump.elf, dump-paging.elf, dump.kdump.
Every wait is bounded (LINUX_GUEST_TIMEOUT, default 600 s); QEMU is always
killed at the end."""
import json, os, signal, socket, subprocess, sys, time

# `timeout` sends SIGTERM: turn it into SystemExit so the finally below kills QEMU.
signal.signal(signal.SIGTERM, lambda *_: sys.exit("linux guest: terminated"))

out, vmlinuz, initrd = (os.path.abspath(a) for a in sys.argv[1:4])
deadline = time.monotonic() + float(os.environ.get("LINUX_GUEST_TIMEOUT", "600"))
serial = os.path.join(out, "serial.log")
qmp_path = os.path.join(out, "qmp.sock")
for f in ("serial.log", "qmp.sock", "dump.elf", "dump-paging.elf", "dump.kdump"):
    try: os.unlink(os.path.join(out, f))
    except FileNotFoundError: pass

def left():
    t = deadline - time.monotonic()
    if t <= 0: raise SystemExit("linux guest: timed out")
    return t

def serial_text():
    return open(serial, errors="replace").read() if os.path.exists(serial) else ""

qemu = subprocess.Popen(
    ["qemu-system-x86_64", "-accel", "tcg", "-smp", "2", "-m", "1G",
     "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
     "-device", "vmcoreinfo",
     "-serial", "file:" + serial, "-qmp", "unix:%s,server=on,wait=off" % qmp_path,
     "-kernel", vmlinuz, "-initrd", initrd,
     "-append", "console=ttyS0 ignore_loglevel panic=0"],
    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    # The end marker comes after smp_send_stop(), so the other CPU is stopped.
    while "---[ end Kernel panic" not in serial_text():
        if qemu.poll() is not None:
            raise SystemExit("linux guest: qemu exited early: " + qemu.stdout.read().decode(errors="replace"))
        left(); time.sleep(0.2)
    time.sleep(1)
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(left())
    sock.connect(qmp_path)
    f = sock.makefile("rw")
    def cmd(name, **args):
        f.write(json.dumps({"execute": name, "arguments": args}) + "\n"); f.flush()
        while True:
            sock.settimeout(left())
            msg = json.loads(f.readline())
            if "return" in msg: return msg["return"]
            if "error" in msg: raise SystemExit("linux guest: %s: %s" % (name, msg["error"]))
    json.loads(f.readline())                   # greeting
    cmd("qmp_capabilities")
    cmd("stop")
    for name, paging, fmt in (("dump.elf", False, "elf"), ("dump-paging.elf", True, "elf"),
                              ("dump.kdump", False, "kdump-zlib")):
        cmd("dump-guest-memory", paging=paging, format=fmt, protocol="file:" + os.path.join(out, name))
    cmd("quit")
    qemu.wait(timeout=left())
finally:
    if qemu.poll() is None:
        qemu.kill(); qemu.wait()
    try: os.unlink(qmp_path)
    except FileNotFoundError: pass

#!/usr/bin/env python3
"""Boots the panicker guest under QEMU (TCG), waits for its panic line on the
serial port, and dumps its memory over QMP: ELF without paging (physical
only), ELF with paging (virtual addresses filled, for gdb), kdump-zlib.

usage: run.py OUTDIR   (OUTDIR holds kernel.bin from build.sh)
Writes OUTDIR/serial.log, dump.elf, dump-paging.elf, dump.kdump.
Every wait is bounded; QEMU is always killed at the end."""
import json, os, socket, subprocess, sys, time

out = os.path.abspath(sys.argv[1])
deadline = time.monotonic() + float(os.environ.get("PANICKER_TIMEOUT", "60"))
serial = os.path.join(out, "serial.log")
qmp_path = os.path.join(out, "qmp.sock")
for f in (serial, qmp_path, "dump.elf", "dump-paging.elf", "dump.kdump"):
    try: os.unlink(os.path.join(out, f))
    except FileNotFoundError: pass

def left():
    t = deadline - time.monotonic()
    if t <= 0: raise SystemExit("panicker: timed out")
    return t

qemu = subprocess.Popen(
    ["qemu-system-x86_64", "-accel", "tcg", "-smp", "2", "-m", "64M", "-cpu", "qemu64,+pdpe1gb",
     "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
     "-serial", "file:" + serial, "-qmp", "unix:%s,server=on,wait=off" % qmp_path,
     "-kernel", os.path.join(out, "kernel.bin")],
    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    while "CPU 1 halted." not in (open(serial, errors="replace").read() if os.path.exists(serial) else ""):
        if qemu.poll() is not None:
            raise SystemExit("panicker: qemu exited early: " + qemu.stdout.read().decode(errors="replace"))
        left(); time.sleep(0.05)
    time.sleep(0.2)  # let the other CPU reach its halt
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
            if "error" in msg: raise SystemExit("panicker: %s: %s" % (name, msg["error"]))
    json.loads(f.readline())                   # greeting
    cmd("qmp_capabilities")
    cmd("stop")
    cmd("dump-guest-memory", paging=False, protocol="file:" + os.path.join(out, "dump.elf"))
    cmd("dump-guest-memory", paging=True, protocol="file:" + os.path.join(out, "dump-paging.elf"))
    cmd("dump-guest-memory", paging=False, format="kdump-zlib", protocol="file:" + os.path.join(out, "dump.kdump"))
    cmd("quit")
    qemu.wait(timeout=left())
finally:
    if qemu.poll() is None:
        qemu.kill(); qemu.wait()

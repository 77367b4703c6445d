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
Every wait is bounded; QEMU is always killed at the end."""
import json, os, shutil, socket, struct, subprocess, sys, time

KERNEL_VBASE = 0xffff000000000000
out = os.path.abspath(sys.argv[1])
deadline = time.monotonic() + float(os.environ.get("PANICKER_TIMEOUT", "60"))
serial = os.path.join(out, "serial.log")
qmp_path = os.path.join(out, "qmp.sock")
for f in (serial, qmp_path, "dump.elf", "dump.kdump", "dump-gdb.elf"):
    try: os.unlink(os.path.join(out, f))
    except FileNotFoundError: pass

def left():
    t = deadline - time.monotonic()
    if t <= 0: raise SystemExit("panicker-arm64: timed out; serial: " + (open(serial, errors="replace").read() if os.path.exists(serial) else ""))
    return t

qemu = subprocess.Popen(
    ["qemu-system-aarch64", "-accel", "tcg", "-machine", "virt", "-cpu", "cortex-a57", "-smp", "2", "-m", "128M",
     "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
     "-serial", "file:" + serial, "-qmp", "unix:%s,server=on,wait=off" % qmp_path,
     "-kernel", os.path.join(out, "kernel.elf")],
    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    while "CPU 0 halted." not in (open(serial, errors="replace").read() if os.path.exists(serial) else ""):
        if qemu.poll() is not None:
            raise SystemExit("panicker-arm64: qemu exited early: " + qemu.stdout.read().decode(errors="replace"))
        left(); time.sleep(0.05)
    time.sleep(0.2)  # let the CPU reach its wfi loop
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
            if "error" in msg: raise SystemExit("panicker-arm64: %s: %s" % (name, msg["error"]))
    json.loads(f.readline())                   # greeting
    cmd("qmp_capabilities")
    cmd("stop")
    cmd("dump-guest-memory", paging=False, protocol="file:" + os.path.join(out, "dump.elf"))
    formats = cmd("query-dump-guest-memory-capability").get("formats", [])
    if "kdump-zlib" in formats:
        cmd("dump-guest-memory", paging=False, format="kdump-zlib", protocol="file:" + os.path.join(out, "dump.kdump"))
    cmd("quit")
    qemu.wait(timeout=left())
finally:
    if qemu.poll() is None:
        qemu.kill(); qemu.wait()

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

"""Boots a test guest under QEMU and talks QMP to it: the part the guests'
run.py scripts share (panicker, panicker-arm64, linux, linux-arm64).

    with QemuGuest(out, argv, name="panicker", timeout=60) as g:
        g.wait_serial("CPU 1 halted.")
        g.qmp("stop")
        g.dump("dump.elf", paging=False)

Every wait is bounded by the one deadline; leaving the block (normally or
by an exception, or by a SIGTERM such as `timeout` sends) always ends QEMU
and removes the QMP socket."""
import json, os, signal, socket, subprocess, sys, time


class QemuGuest:
    def __init__(self, out, argv, name, timeout):
        """`argv`: the QEMU command line without -serial/-qmp (added here);
        serial output goes to OUT/serial.log, QMP listens on OUT/qmp.sock."""
        self.out = os.path.abspath(out)
        self.name = name
        self.deadline = time.monotonic() + timeout
        self.serial = os.path.join(self.out, "serial.log")
        self.qmp_path = os.path.join(self.out, "qmp.sock")
        self.argv = list(argv) + ["-serial", "file:" + self.serial,
                                  "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        self.proc = None
        self.sock = None
        self.file = None

    def remove(self, *names):
        """Deletes earlier outputs (names relative to OUT) before a run."""
        for n in names:
            try: os.unlink(os.path.join(self.out, n))
            except FileNotFoundError: pass

    def left(self):
        """Seconds until the deadline; ends the run when none are left."""
        t = self.deadline - time.monotonic()
        if t <= 0:
            raise SystemExit("%s: timed out; serial: %s" % (self.name, self.serial_text()))
        return t

    def serial_text(self):
        return open(self.serial, errors="replace").read() if os.path.exists(self.serial) else ""

    def __enter__(self):
        # SIGTERM becomes SystemExit, so __exit__ still ends QEMU.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit("%s: terminated" % self.name))
        self.remove("serial.log", "qmp.sock")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, *exc):
        if self.sock is not None:
            self.sock.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill(); self.proc.wait()
        self.remove("qmp.sock")
        return False

    def wait_serial(self, marker, poll=0.05):
        """Waits until the serial log contains `marker`."""
        while marker not in self.serial_text():
            if self.proc.poll() is not None:
                raise SystemExit("%s: qemu exited early: %s" % (self.name, self.proc.stdout.read().decode(errors="replace")))
            self.left(); time.sleep(poll)

    def qmp(self, command, **args):
        """Runs one QMP command (connecting and negotiating on first use)
        and returns its `return` value; a QMP error ends the run."""
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(self.left())
            self.sock.connect(self.qmp_path)
            self.file = self.sock.makefile("rw")
            json.loads(self.file.readline())          # greeting
            self.qmp("qmp_capabilities")
        self.file.write(json.dumps({"execute": command, "arguments": args}) + "\n"); self.file.flush()
        while True:
            self.sock.settimeout(self.left())
            line = self.file.readline()
            if not line:
                raise SystemExit("%s: QMP connection closed during %s" % (self.name, command))
            msg = json.loads(line)
            if "return" in msg: return msg["return"]
            if "error" in msg: raise SystemExit("%s: %s: %s" % (self.name, command, msg["error"]))

    def dump(self, filename, paging=False, format=None):
        """`dump-guest-memory` into OUT/filename (ELF unless `format`, e.g. kdump-zlib)."""
        args = {"paging": paging, "protocol": "file:" + os.path.join(self.out, filename)}
        if format: args["format"] = format
        self.qmp("dump-guest-memory", **args)

    def dump_formats(self):
        """The formats this QEMU can dump in (query-dump-guest-memory-capability)."""
        return self.qmp("query-dump-guest-memory-capability").get("formats", [])

    def quit(self):
        """QMP quit, then waits for QEMU to end."""
        self.qmp("quit")
        self.proc.wait(timeout=self.left())

"""What the lab's boot scripts share (lab/boot.py for x86, lab/arm64/boot.py):
a QMP client, a serial-log watcher, and LabBoot, which runs one bounded QEMU
boot whose dom0 writes its results as a tar stream on a raw disk:

    boot = LabBoot(out, disk_mb=512, who="arm64/boot.py")
    def scenario(b):
        b.wait_for_dom0()
        ...                       # profile-specific waits, b.machine_dumps(...)
    return boot.run(qemu_argv + boot.qemu_io_args(), facts, timeout, scenario)

Every boot is bounded by its timeout and always kills its QEMU; the results
disk is unpacked into OUT/results and the boot's facts go to OUT/boot.json.
"""
import argparse, json, os, re, signal, socket, subprocess, sys, tarfile, time


def boot_arguments(description, xen_help, kernel_help, disk_mb):
    """The options every lab boot script takes (each adds its own)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--xen", required=True, help=xen_help)
    ap.add_argument("--kernel", required=True, help=kernel_help)
    ap.add_argument("--initrd", required=True, help="dom0 initramfs")
    ap.add_argument("--scenarios", required=True, help="scenario names joined by '+'")
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=int, default=900, help="seconds for the whole boot")
    ap.add_argument("--disk-mb", type=int, default=disk_mb)
    ap.add_argument("--mem-mb", type=int, default=2048)
    return ap


def qemu_command(default):
    """The QEMU binary to run: `default` from PATH, or the one QEMU_SYSTEM
    names (a build unpacked outside the system, lab/fetch-qemu.sh), with -L
    for its own firmware folders (SeaBIOS, option ROMs) ahead of the
    system's; returns argv's first words."""
    binary = os.environ.get("QEMU_SYSTEM")
    if not binary:
        return [default]
    prefix = os.path.dirname(os.path.dirname(os.path.abspath(binary)))
    argv = [binary]
    for d in ("share/qemu", "share/seabios"):
        if os.path.isdir(os.path.join(prefix, d)):
            argv += ["-L", os.path.join(prefix, d)]
    return argv


def qemu_version(argv):
    """`QEMU emulator version …` of the binary argv starts with."""
    try:
        return subprocess.run([argv[0], "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError) as e:
        return f"unknown ({e})"


class QMP:
    """A minimal QMP client (JSON lines over a unix socket)."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.buf = b""
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        self.sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            msg = self._read()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise RuntimeError(f"QMP {name}: {msg['error']}")
            # asynchronous events (STOP, RESUME, DUMP_COMPLETED…) are skipped

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line})


def wait_for(serial, pattern, deadline, proc):
    """Polls the serial log until `pattern` appears; returns the match or None."""
    rx = re.compile(pattern)
    while time.time() < deadline:
        try:
            with open(serial, "rb") as f:
                m = rx.search(f.read().decode("latin-1"))
            if m:
                return m
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            return None
        time.sleep(0.25)
    return None


class LabBoot:
    """One lab boot's files in OUT (serial.log, the results disk, qmp.sock,
    qemu-cmdline.txt, qemu-stderr.txt, boot.json) and the run around a
    profile's scenario: start QEMU, connect QMP, always kill QEMU, unpack the
    results, record the facts."""

    def __init__(self, out, disk_mb, who):
        self.out = os.path.abspath(out)
        self.who = who  # names the script in messages
        os.makedirs(self.out, exist_ok=True)
        self.serial = os.path.join(self.out, "serial.log")
        self.disk = os.path.join(self.out, "results.img")
        self.qmp_path = os.path.join(self.out, "qmp.sock")
        for p in (self.serial, self.disk, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        with open(self.disk, "wb") as f:
            f.truncate(disk_mb << 20)
        self.qmp = self.proc = None

    def qemu_io_args(self):
        """QEMU options for the serial log and the QMP socket in OUT."""
        return ["-serial", f"file:{self.serial}", "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]

    def mark(self, name):
        """Records when (seconds since QEMU started) `name` happened, and prints it."""
        self.facts["events"][name] = round(time.time() - self.t0, 1)
        print(f"[{self.facts['events'][name]:7.1f} s] {name}", flush=True)

    def wait(self, pattern, deadline=None):
        """The first match of `pattern` on the serial log, or None by the deadline (or QEMU's exit)."""
        return wait_for(self.serial, pattern, self.deadline if deadline is None else deadline, self.proc)

    def wait_for_dom0(self):
        """Marks Xen's banner and dom0's toolstack coming up (when they do)."""
        for name, rx in (("xen banner", r"Xen version 4\.\d+"), ("dom0 init", r"XENSCOPE-LAB: toolstack up")):
            if self.wait(rx):
                self.mark(name)

    def machine_dumps(self, formats, status=False):
        """Stops the machine, saves every CPU's registers (and with `status`
        QMP's query-status), takes a dump-guest-memory per format (elf →
        machine.elf, else machine.kdump), then quits QEMU."""
        self.qmp.cmd("stop")
        with open(os.path.join(self.out, "info-registers.txt"), "w") as f:
            f.write(self.qmp.hmp("info registers -a"))
        if status:
            with open(os.path.join(self.out, "query-status.json"), "w") as f:
                json.dump(self.qmp.cmd("query-status"), f)
        for fmt in formats:
            p = os.path.join(self.out, "machine.elf" if fmt == "elf" else "machine.kdump")
            self.qmp.cmd("dump-guest-memory", paging=False, protocol=f"file:{p}", format=fmt)
            self.mark(f"dump {fmt} done")
        self.qmp.cmd("quit")

    def run(self, qemu, facts, timeout, scenario):
        """Boots `qemu` (bounded by `timeout` seconds), runs scenario(self)
        once QMP answers, waits for QEMU to exit, and collects the results;
        an exception is reported in the facts. Returns the exit status."""
        with open(os.path.join(self.out, "qemu-cmdline.txt"), "w") as f:
            f.write(" ".join(qemu) + "\n")
        self.facts = facts
        self.t0 = time.time()
        self.deadline = self.t0 + timeout
        log = open(os.path.join(self.out, "qemu-stderr.txt"), "wb")
        self.proc = subprocess.Popen(qemu, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        ok = True
        try:
            self.qmp = QMP(self.qmp_path, self.deadline)
            scenario(self)
            self.proc.wait(timeout=max(1, self.deadline - time.time()))
            self.mark("qemu exited")
        except Exception as e:  # report, clean up, still collect what exists
            ok = False
            facts["error"] = str(e)
            print(f"{self.who}: {e}", file=sys.stderr)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                self.mark("qemu killed")
        facts["seconds"] = round(time.time() - self.t0, 1)
        try:
            with tarfile.open(self.disk, "r:") as t:  # plain tar: no compression probing of a mostly empty disk
                if not t.getmembers():
                    raise tarfile.TarError("empty")
                t.extractall(os.path.join(self.out, "results"))
            os.unlink(self.disk)
        except tarfile.TarError as e:
            ok = False
            facts["error"] = facts.get("error", "") + f" results disk holds no tar stream: {e}"
            print(f"{self.who}: results disk holds no tar stream ({e}); serial log: {self.serial}", file=sys.stderr)
        with open(os.path.join(self.out, "boot.json"), "w") as f:
            json.dump(facts, f, indent=1)
        return 0 if ok else 1

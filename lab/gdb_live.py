#!/usr/bin/python3
"""The host side of the live-gdb scenario: runs the host's real gdb in batch
mode against a debugger serving a PV domU inside the lab's dom0 (reached via
boot.py's loopback bridge) and saves the transcript as OUT/PHASE.txt.

Phases (dom0 names them in its "XENSCOPE-LAB: gdb phase=NAME k=v..." marker):
  stub        `xenscope gdbstub --domain N --tty <virtio port>`: threads,
              registers of each vCPU, x/8gx of linux_banner, bt, monitor xen;
              with CONFIG_GDBSX (gdbsx=1) a breakpoint on a kernel function,
              stepi, continue to it again, then hbreak on it and watch,
              rwatch, awatch on jiffies_64 (debug registers); without, the refused breakpoint and
              stepi; then continue, Ctrl-C (SIGINT to gdb, which sends \\x03),
              and detach.
  pv-sched    (profile gdbhvm) the 2-vCPU PV guest: breakpoint reported on
              the vCPU that hit it, 40 stepi checked against `x/2i $pc`
              (lab/gdb_checks.py), scheduler-locking step and continue
              (the other vCPU's registers must not move), Ctrl-C on the
              thread gdb selected.
  hvm         (profile gdbhvm) the PVH guest: threads, registers, banner,
              a register write read back, 40 checked stepi from the attach
              point, continue, Ctrl-C, 20 checked stepi from there, detach.
  avx         (profile gdbavx) the PV guest running lab/domU/avxcheck.c:
              ymm0-15 read at a stop inside its spin, after a general-register
              write, after a ymm lane write and after stepi (lab/gdb_avx.py).
  hvm-hbreak / hvm-int3   (profile hvmbreak, a newer QEMU) the PVH guest:
              `hbreak` / `break` on a function it runs on every event
              upcall, the stop (@@regs, thread), `continue` to it again,
              `delete`, continue, Ctrl-C, detach.
  perf-stub / perf-gdbsx   the same 64 MiB `dump binary memory` and N timed
              `stepi` through our stub or Xen's gdbsx (both over TCP in dom0
              behind the same relay, so the path is the same).
Lines "@@name" in the transcript mark each step; "@@time name seconds=S" are
wall-clock times measured inside gdb (its Python).
"""
import argparse, json, os, signal, subprocess, sys, threading, time

READ_SECONDS = 150


def commands(phase, f, port, out):
    ex = ["set pagination off", "set confirm off", "set width 0", "set height 0",
          "set remotetimeout 120", "set tcp connect-timeout 60",
          "python import time"]
    if phase.startswith("perf"):
        # gdbsx sends no target description: without a kernel ELF loaded, gdb
        # would take it for i386 (as gdbsx's users load vmlinux first).
        ex.append("set architecture i386:x86-64")
    ex.append(f"target remote 127.0.0.1:{port}")

    def step(name, *cmds):
        ex.append(f"echo \\n@@{name}\\n")
        ex.extend(cmds)

    def timed(name, *cmds):
        ex.append(f"echo \\n@@{name}\\n")
        ex.append("python t0 = time.time()")
        ex.extend(cmds)
        ex.append(f"python print('@@time {name} seconds=%.4f' % (time.time() - t0))")

    if phase == "stub":
        bp, banner = f["bp"], f["banner"]
        step("threads", "info threads")
        for v in range(int(f.get("vcpus", "2"))):
            step(f"registers vcpu{v}", f"thread {v + 1}", "info registers")
        step("thread 1", "thread 1")
        step("banner", f"x/8gx 0x{banner}")
        step("bt", "bt 4")
        step("monitor", "monitor xen")
        step("page_offset_base", f"x/gx 0x{f['pob']}")
        if f.get("gdbsx") == "1":
            step("break", f"break *0x{bp}")
            step("continue to breakpoint", "continue")
            step("pc at breakpoint", "p/x $pc")
            step("instructions at breakpoint", "x/3i $pc")
            step("stepi", "stepi")
            step("pc after stepi", "p/x $pc")
            step("continue again", "continue")
            step("pc at breakpoint again", "p/x $pc")
            step("delete", "delete")
            # Debug registers: an execute breakpoint, then write, read (gdb
            # asks for Z3, is refused, and uses an access watchpoint) and
            # access watchpoints on jiffies_64 (kallsyms' address; no DWARF).
            checks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gdb_checks.py")
            jw = f"*(unsigned long *)0x{f['jiffies']}"
            step("hbreak", f"source {checks}", "python t0 = time.time()", f"hbreak *0x{bp}")
            step("continue to hbreak", "continue")
            step("at hbreak", "p/x $pc", "thread")
            step("delete hbreak", "delete")
            step("watch", f"watch {jw}")
            step("continue to watch", "continue")
            step("at watch", "p/x $pc", "thread", f"python writer(0x{f['jiffies']})")
            step("continue to watch again", "continue")
            step("delete watch", "delete")
            step("rwatch", f"rwatch {jw}")
            step("continue to rwatch", "continue")
            step("delete rwatch", "delete")
            step("awatch", f"awatch {jw}")
            step("continue to awatch", "continue")
            step("delete awatch", "delete", "python print('@@time debugregs seconds=%.4f' % (time.time() - t0))")
            if f.get("kp"):
                # Our breakpoint on the guest's own kprobe int3: the stop is
                # ours; the first stepi executes the guest's int3 and stays;
                # the second lets the guest take it, then steps on.
                step("kprobe break", f"break *0x{f['kp']}")
                step("continue to kprobe", "continue")
                step("at kprobe", "p/x $pc")
                # Only this vCPU runs while stepping: another one's trap
                # would end the step before it ran (docs/gdbstub.md).
                step("delete kprobe break", "delete", "set scheduler-locking step")
                step("kprobe stepi", "stepi", "p/x $pc")
                step("kprobe stepi again", "stepi", "p/x $pc", "set scheduler-locking replay")
        else:
            step("break", f"break *0x{bp}")
            step("continue with breakpoint", "continue")
            step("delete", "delete")
            step("stepi", "stepi")
            step("pc after stepi", "p/x $pc")
        step("jiffies before continue", f"x/gx 0x{f['jiffies']}")
        step("continue", "continue")          # the helper sends SIGINT a few seconds later
        step("after interrupt", "info threads")
        step("jiffies after interrupt", f"x/gx 0x{f['jiffies']}")
        step("detach", "detach")
    elif phase == "pv-sched":
        checks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gdb_checks.py")
        steps = int(f.get("steps", "40"))
        ex.append(f"source {checks}")
        step("threads", "info threads")
        step("break", f"break *0x{f['bp']}")
        step("continue to breakpoint", "continue")
        step("at breakpoint", "python regs('bp')", "thread")
        step("delete", "delete")
        step("stepi check", f"python stepcheck({steps})")
        # Scheduler-locking: gdb resumes only the selected thread (vCont;s:N
        # then vCont;c:N); the other vCPU must stay exactly where it was.
        step("locked steps", "set scheduler-locking step", "python regs('before-locked-step')",
             "stepi", "stepi", "stepi", "python regs('after-locked-step')")
        step("locked continue setup", "set scheduler-locking on", "python regs('before-locked-continue')")
        step("continue ctrl-c locked", "continue")
        step("after locked continue", "python regs('after-locked-continue')", "thread")
        # Ctrl-C of a continue of every vCPU stops on the thread gdb selected.
        step("select thread 2", "set scheduler-locking off", "thread 2")
        step("continue ctrl-c thread 2", "continue")
        step("after ctrl-c thread 2", "thread", "python regs('after-ctrl-c')")
        step("detach", "detach")
    elif phase == "hvm":
        checks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gdb_checks.py")
        steps = int(f.get("steps", "40"))
        ex.append(f"source {checks}")
        step("threads", "info threads")
        step("registers vcpu0", "info registers")
        step("system registers", "info registers cr0 cr3 cr4 efer fs_base gs_base k_gs_base")
        step("banner", "set print elements 0", f"x/s 0x{f['banner']}")
        step("banner words", f"x/8gx 0x{f['banner']}")
        step("bt", "bt 4")
        step("monitor", "monitor xen")
        # No breakpoint here: under QEMU 7.2's TCG neither a nested guest's
        # int3 (QEMU checks the software-interrupt intercept, not #BP) nor a
        # debug-register breakpoint (VMRUN loads DR7 without arming it) ever
        # reaches Xen; TF's #DB does, so stepping is checked from where the
        # stub stopped the vCPU (attach), and again after a Ctrl-C.
        # A register write through the vCPU's HVM context, read back from the
        # target (gdb's cache flushed), then the old value put back.
        step("r11 before", "set $saved_r11 = $r11", "p/x $saved_r11")
        step("r11 written", "set $r11 = 0x1122334455667788", "maintenance flush register-cache", "p/x $r11")
        step("r11 restored", "set $r11 = $saved_r11", "maintenance flush register-cache", "p/x $r11")
        step("stepi check", f"python stepcheck({steps}, 'attach')")
        step("jiffies before continue", f"x/gx 0x{f['jiffies']}")
        step("continue", "continue")          # the helper sends SIGINT a few seconds later
        step("after interrupt", "info threads")
        step("jiffies after interrupt", f"x/gx 0x{f['jiffies']}")
        step("stepi check interrupted", f"python stepcheck({steps // 2}, 'interrupted')")
        step("detach", "detach")
    elif phase == "avx":
        # The 1-vCPU PV guest running lab/domU/avxcheck.c (profile gdbavx).
        ex.append("source " + os.path.join(os.path.dirname(os.path.abspath(__file__)), "gdb_avx.py"))
        step("settle", f"python avx_settle(0x{f['lo']}, 0x{f['hi']}, 8)")
        step("info ymm3", "info registers ymm3")
        step("attach", "python avx_dump('attach')")
        # A general-register write (PV: xc_vcpu_setcontext, which resets the
        # XSAVE header): the upper halves must survive. Two writes, the
        # second putting r11 back (gdb skips a write of an unchanged value;
        # the spin does not use r11).
        step("r11 write", "p/x $r11", "set $r11 = $r11 ^ 1", "maintenance flush register-cache", "p/x $r11",
             "set $r11 = $r11 ^ 1", "python avx_dump('after-gpr-write')")
        step("ymm5 write", "set $ymm5.v8_int32[7] = 0x12345678", "python avx_dump('after-ymm-write')")
        # PV single-step (TF through setcontext) from a kernel breakpoint.
        step("break", f"break *0x{f['bp']}")
        step("continue to breakpoint", "continue")
        step("pc at breakpoint", "p/x $pc")
        step("delete", "delete")
        step("stepi", "stepi", "stepi", "stepi", "p/x $pc", "python avx_dump('after-stepi')")
    elif phase in ("hvm-hbreak", "hvm-int3"):
        checks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gdb_checks.py")
        ex.append(f"source {checks}")
        kind = "hbreak" if phase == "hvm-hbreak" else "break"
        step("threads", "info threads")
        step("break", f"{kind} *0x{f['bp']}")
        step("continue to breakpoint", "continue")      # a 60 s watchdog Ctrl-C only
        step("at breakpoint", "python regs('bp')", "thread", "p/x $pc")
        step("continue to breakpoint again", "continue")
        step("at breakpoint again", "python regs('bp-again')", "thread", "p/x $pc")
        step("delete", "delete", "info breakpoints")
        step("jiffies before continue", f"x/gx 0x{f['jiffies']}")
        step("continue", "continue")          # the helper sends SIGINT a few seconds later
        step("after interrupt", "python regs('interrupted')")
        step("jiffies after interrupt", f"x/gx 0x{f['jiffies']}")
        step("detach", "detach")
    else:   # perf-stub, perf-gdbsx
        start, size, steps = int(f["start"], 16), int(f.get("mb", "64")) << 20, int(f.get("steps", "20"))
        step("threads", "info threads")
        # The 64 MiB read in 1 MiB target reads (gdb splits each into the
        # server's packets), bounded in time: under TCG on a loaded 2-core
        # machine the virtio-serial path moves ~100 KB/s, so the rate over
        # the first READ_SECONDS is what is compared (bytes and seconds kept).
        script = os.path.join(out, phase + "-read.py")
        with open(script, "w") as sf:
            sf.write(f"""import time
inf = gdb.selected_inferior()
t0, done = time.time(), 0
while done < {size} and time.time() - t0 < {READ_SECONDS}:
    inf.read_memory(0x{start:x} + done, 1 << 20)
    done += 1 << 20
print('@@time read seconds=%.4f bytes=%d' % (time.time() - t0, done))
""")
        step("read", f"source {script}")
        # 256 KiB of kernel text (read-only, the same whoever reads it): the
        # test compares what each debugger got.
        text = int(f.get("text", "ffffffff81000000"), 16)
        step("text", f"dump binary memory {os.path.join(out, phase)}-text.bin 0x{text:x} 0x{text + (256 << 10):x}")
        # stepi from a kernel breakpoint: a #DB taken in guest user mode goes
        # to the guest, not to the debugger.
        step("break", f"break *0x{f['bp']}")
        step("continue to breakpoint", "continue")
        step("pc at breakpoint", "p/x $pc")
        step("delete", "delete")
        timed("stepi", *(["stepi"] * steps))
        step("pc after stepi", "p/x $pc")
        step("detach", "detach")
    return ex


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--phase", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--facts", default="{}")
    ap.add_argument("--timeout", type=int, default=850)
    ap.add_argument("--interrupt-after", type=float, default=4.0)
    a = ap.parse_args()
    f = json.loads(a.facts)
    os.makedirs(a.out, exist_ok=True)
    argv = ["gdb", "-nx", "-q", "-batch"]
    for c in commands(a.phase, f, a.port, os.path.abspath(a.out)):
        argv += ["-ex", c]
    with open(os.path.join(a.out, a.phase + ".cmd"), "w") as c:
        c.write("\n".join(argv[4:][1::2]) + "\n")
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    timer = threading.Timer(a.timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
    timer.start()
    pending = []
    with open(os.path.join(a.out, a.phase + ".txt"), "wb") as log:
        lock = threading.Lock()

        def interrupt():
            with lock:
                if p.poll() is None:
                    log.write(b"@@sigint sent\n"); log.flush()
                    os.kill(p.pid, signal.SIGINT)

        for line in iter(p.stdout.readline, b""):
            with lock:
                log.write(line); log.flush()
            marker = line.strip()
            if marker.startswith(b"@@") and not marker.startswith(b"@@time"):
                for t in pending:
                    t.cancel()
                pending.clear()
                # Ctrl-C: gdb turns SIGINT into the remote interrupt (\x03). A
                # continue that should stop by itself (breakpoint) gets a
                # late one only as a watchdog.
                if marker == b"@@continue" or marker.startswith(b"@@continue ctrl-c"):
                    pending.append(threading.Timer(a.interrupt_after, interrupt))
                elif marker.startswith(b"@@continue"):
                    pending.append(threading.Timer(60, interrupt))
                for t in pending:
                    t.start()
        for t in pending:
            t.cancel()
    rc = p.wait()
    timer.cancel()
    print(f"gdb_live.py: phase {a.phase}: gdb exited {rc} after {time.time() - t0:.1f} s", flush=True)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

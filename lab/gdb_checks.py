# Sourced into the host's gdb by lab/gdb_live.py (phases pv-sched and hvm):
# prints facts as "@@..." lines the lab tests read. Runs inside gdb's Python.
import re
import gdb

MASK = (1 << 64) - 1
REGS = ("rip", "rsp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "eflags")
INSN = re.compile(r"^(?:=>)?\s*0x([0-9a-f]+)(?: <[^>]*>)?:\s*(.*)$")


def regs(tag):
    """"@@regs TAG thread=N rip=… …" for every thread, then the selected one
    ("@@selected TAG thread=N"); the selection is left as it was."""
    cur = gdb.selected_thread()
    lines = []
    for t in sorted(gdb.selected_inferior().threads(), key=lambda t: t.num):
        t.switch()
        f = gdb.newest_frame()
        vals = " ".join("%s=%x" % (r, int(f.read_register(r)) & MASK) for r in REGS)
        lines.append("@@regs %s thread=%d %s" % (tag, t.num, vals))
    cur.switch()
    for l in lines:
        print(l)
    print("@@selected %s thread=%d" % (tag, cur.num))


def stepcheck(n, tag="bp"):
    """n stepi of the selected thread; before each, gdb's own `x/2i $pc`
    names the instruction and where the next one starts:
    "@@step TAG I thread=T/T' pc=… next=… after=… insn=TEXT"."""
    for i in range(n):
        th = gdb.selected_thread().num
        pc = int(gdb.parse_and_eval("$pc")) & MASK
        found = [INSN.match(l) for l in gdb.execute("x/2i $pc", to_string=True).splitlines()]
        found = [m for m in found if m]
        nxt = int(found[1].group(1), 16) if len(found) > 1 else 0
        insn = found[0].group(2).strip() if found else "?"
        gdb.execute("stepi", to_string=True)
        after = int(gdb.parse_and_eval("$pc")) & MASK
        print("@@step %s %d thread=%d/%d pc=%x next=%x after=%x insn=%s"
              % (tag, i, th, gdb.selected_thread().num, pc, nxt, after, insn))


def writer(address):
    """The instruction that ends exactly at the selected thread's pc (a
    data watchpoint traps after the access): every length 1–15 back from
    the pc that gdb decodes as one instruction of that length, and whether
    it names ADDRESS (rip-relative operands are shown as "# 0x…"):
    "@@writer pc=… start=… len=N names=0|1 insn=TEXT"."""
    pc = int(gdb.parse_and_eval("$pc")) & MASK
    arch = gdb.selected_frame().architecture()
    for k in range(1, 16):
        try:
            d = arch.disassemble(pc - k, count=1)[0]
        except gdb.MemoryError:
            continue
        if d["length"] != k:
            continue
        names = ("0x%x" % address) in d["asm"]
        print("@@writer pc=%x start=%x len=%d names=%d insn=%s" % (pc, pc - k, k, int(names), d["asm"]))

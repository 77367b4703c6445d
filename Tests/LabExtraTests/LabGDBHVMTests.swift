import Foundation
import LabTestSupport
import Testing

/// What lab/gdb_checks.py adds to the transcripts of the make-lab-only
/// profile `gdbhvm` (phases `hvm` and `pv-sched`): the "@@regs",
/// "@@selected" and "@@step" facts.
extension GDBTranscript {
    /// "@@regs TAG thread=N name=hex …" → thread → register → value.
    func regs(_ tag: String) -> [Int: [String: UInt64]] {
        var out: [Int: [String: UInt64]] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("@@regs \(tag) thread=") {
            let fields = line.split(separator: " ").dropFirst(2)
            guard let t = fields.first.flatMap({ Int($0.dropFirst("thread=".count)) }) else { continue }
            var r: [String: UInt64] = [:]
            for f in fields.dropFirst() {
                let kv = f.split(separator: "=")
                if kv.count == 2 { r[String(kv[0])] = UInt64(kv[1], radix: 16) }
            }
            out[t] = r
        }
        return out
    }

    func selected(_ tag: String) -> Int? {
        text.firstMatch(of: try! Regex("@@selected \(tag) thread=(\\d+)")).flatMap { Int($0.output[1].substring ?? "") }
    }

    /// One checked stepi: the instruction gdb decoded at `pc`, where the
    /// next one starts, where the step landed, and the thread before/after.
    struct Step { let tag: String; let index: Int; let thread: Int; let threadAfter: Int; let pc: UInt64; let next: UInt64; let after: UInt64; let insn: String }

    var steps: [Step] {
        text.matches(of: #/(?m)^@@step (\w+) (\d+) thread=(\d+)/(\d+) pc=([0-9a-f]+) next=([0-9a-f]+) after=([0-9a-f]+) insn=(.*)$/#).map {
            Step(tag: String($0.1), index: Int($0.2)!, thread: Int($0.3)!, threadAfter: Int($0.4)!, pc: UInt64($0.5, radix: 16)!,
                 next: UInt64($0.6, radix: 16)!, after: UInt64($0.7, radix: 16)!, insn: String($0.8))
        }
    }

    /// Instructions after which the next pc is not simply the next
    /// instruction (branches, calls, returns, traps, string repeats, and
    /// those that delay or change the single-step trap itself).
    static func changesFlow(_ insn: String) -> Bool {
        let words = insn.split(separator: " ", omittingEmptySubsequences: true)
        let mnemonic = words.first { !["cs", "ds", "notrack", "bnd", "lock", "data16", "addr32"].contains($0) }.map(String.init) ?? ""
        if ["rep", "repz", "repnz", "repe", "repne"].contains(mnemonic) { return true }
        for p in ["j", "call", "ret", "iret", "lret", "ljmp", "lcall", "int", "loop", "ud", "hlt", "popf", "sysret", "sysexit"] where mnemonic.hasPrefix(p) { return true }
        if mnemonic.hasPrefix("mov") || mnemonic.hasPrefix("pop"), insn.hasSuffix("%ss") { return true }
        return false
    }
}

/// Profile `gdbhvm` (make lab only: `lab/run.sh gdbhvm`, `make lab-test`):
/// the self-built Xen (CONFIG_GDBSX) on a CPU with HAP; the host's gdb
/// debugs a PVH guest and the PV guest's two vCPUs through `xenscope gdbstub
/// --domain`. Every figure is checked against the same boot: xenctx taken
/// while the stub held the guest, the guest's own console, dom0's kallsyms
/// (the same kernel, no KASLR), gdb's own disassembly.
@Suite struct LabGDBHVMTests {
    static func lab() throws -> ExtraResults { try ExtraResults.profile("gdbhvm") }
    static func hvm(_ lab: ExtraResults) throws -> GDBTranscript { GDBTranscript(text: try lab.text("gdb/hvm.txt")) }
    static func pv(_ lab: ExtraResults) throws -> GDBTranscript { GDBTranscript(text: try lab.text("gdb/pv-sched.txt")) }
    static func fact(_ lab: ExtraResults, _ name: String) throws -> UInt64 {
        let facts = try lab.text("results/gdb-hvm/facts.txt")
        let m = try #require(facts.firstMatch(of: try Regex("\(name)=(?:\\w+@)?([0-9a-f]{16})")), "\(name) in \(facts)")
        return try #require(UInt64(m.output[1].substring ?? "", radix: 16))
    }

    /// The PVH guest is one HVM thread; every register xenctx printed
    /// (from `vcpu_guest_context`; ours come from the HVM save record)
    /// equals gdb's `info registers`; EFER says long mode.
    @Test func pvhRegistersEqualXenctx() throws {
        let lab = try Self.lab(), gdb = try Self.hvm(lab)
        #expect(gdb.step("threads").contains("vcpu0") && gdb.step("threads").contains("HVM"), "\(gdb.step("threads"))")
        #expect(gdb.step("monitor").contains("HVM/PVH") && gdb.step("monitor").contains("hypervisor has CONFIG_GDBSX"), "\(gdb.step("monitor"))")
        let x = xenctxRegisters(try lab.text("results/gdb-hvm/xenctx-pvh-vcpu0.txt"))
        var g: [String: UInt64] = [:]
        for m in (gdb.step("registers vcpu0") + "\n" + gdb.step("system registers")).matches(of: #/(?m)^([a-z][a-z0-9_]*)\s+0x([0-9a-f]+)\s/#) {
            g[String(m.1)] = UInt64(m.2, radix: 16)
        }
        var pairs: [(String, String)] = ["rip", "rsp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
                                         "r12", "r13", "r14", "r15", "cs", "ss", "ds", "es", "fs", "gs", "cr0", "cr2", "cr3", "cr4"].map { ($0, $0) }
        pairs.append(("eflags", "flags"))
        for (ours, theirs) in pairs {
            #expect(x[theirs] != nil && g[ours] == x[theirs],
                    "\(ours): gdb \(g[ours].map { String($0, radix: 16) } ?? "missing") xenctx \(x[theirs].map { String($0, radix: 16) } ?? "missing")")
        }
        let xenctx = try lab.text("results/gdb-hvm/xenctx-pvh-vcpu0.txt")
        if let fs = xenctx.firstMatch(of: #/fs: [0-9a-f]+ @ ([0-9a-f]{16})/#) { #expect(g["fs_base"] == UInt64(fs.1, radix: 16)) } else { Issue.record("no fs base in xenctx: \(xenctx)") }
        if let gs = xenctx.firstMatch(of: #/gs: [0-9a-f]+ @ ([0-9a-f]{16})/([0-9a-f]{16})/#) {
            #expect(Set([g["gs_base"], g["k_gs_base"]].compactMap { $0 }) == Set([UInt64(gs.1, radix: 16)!, UInt64(gs.2, radix: 16)!]), "gs bases")
        } else { Issue.record("no gs bases in xenctx: \(xenctx)") }
        let efer = try #require(g["efer"], "\(gdb.step("system registers"))")
        #expect(efer & 0x500 == 0x500, "EFER 0x\(String(efer, radix: 16)): LME and LMA")
    }

    /// Memory through the PVH guest's own page tables: `linux_banner` (its
    /// kallsyms address) reads exactly the "Linux version" line the guest
    /// printed on its console in this boot.
    @Test func pvhBannerEqualsItsConsole() throws {
        let lab = try Self.lab(), gdb = try Self.hvm(lab)
        let console = try lab.text("results/gdb-hvm/guest-pvh.log")
        let line = try #require(console.firstMatch(of: #/\] (Linux version [^\r\n]+)/#)?.1, "no banner in the PVH console")
        let read = try #require(gdb.step("banner").firstMatch(of: #/:\s+"(.*)"/#)?.1, "\(gdb.step("banner"))")
        #expect(read == line + "\\n", "gdb read \(read)\nconsole    \(line)")
        #expect(gdb.step("banner words").matches(of: #/\t0x[0-9a-f]{16}/#).count == 8, "\(gdb.step("banner words"))")
    }

    /// `bt` starts at the rip xenctx saw while the stub held the guest.
    /// (No breakpoint: under QEMU 7.2's TCG neither a nested guest's int3
    /// nor its debug-register breakpoints reach Xen; see docs/gdbstub.md.)
    @Test func pvhBacktraceStartsAtRIP() throws {
        let lab = try Self.lab(), gdb = try Self.hvm(lab)
        let x = xenctxRegisters(try lab.text("results/gdb-hvm/xenctx-pvh-vcpu0.txt"))
        let frame0 = try #require(gdb.step("bt").firstMatch(of: #/#0\s+0x([0-9a-f]+)/#)).1
        #expect(UInt64(frame0, radix: 16) == x["rip"], "\(gdb.step("bt"))")
    }

    /// A register written through the vCPU's HVM context reads back from
    /// the target (gdb's cache flushed), and the old value goes back.
    @Test func pvhRegisterWriteReadsBack() throws {
        let gdb = try Self.hvm(try Self.lab())
        let saved = try #require(gdb.printed("r11 before"), "\(gdb.step("r11 before"))")
        #expect(gdb.printed("r11 written") == 0x1122_3344_5566_7788, "\(gdb.step("r11 written"))")
        #expect(gdb.printed("r11 restored") == saved, "\(gdb.step("r11 restored"))")
    }

    /// `continue` runs the PVH guest (jiffies advance) until Ctrl-C; after
    /// detach it runs on (console ticks).
    @Test func pvhContinueInterruptDetach() throws {
        let lab = try Self.lab(), gdb = try Self.hvm(lab)
        #expect(gdb.step("continue").contains("received signal SIGINT"), "\(gdb.step("continue"))")
        let words = { (s: String) in gdb.step(s).firstMatch(of: #/\t0x([0-9a-f]{16})/#).flatMap { UInt64($0.1, radix: 16) } }
        let before = try #require(words("jiffies before continue")), after = try #require(words("jiffies after interrupt"))
        #expect(after > before, "jiffies \(before) → \(after)")
        #expect(gdb.step("detach").contains("etached"))
        for guest in ["pv", "pvh"] {
            let t = try #require(try lab.text("results/gdb-hvm/after-detach-\(guest).txt").firstMatch(of: #/ticks_after_detach=(\d+) ticks_11s_later=(\d+)/#))
            #expect(Int(t.2)! > Int(t.1)!, "\(guest) console ticks \(t.1) → \(t.2)")
        }
    }

    /// Many stepi, each checked against gdb's own decoding: for every
    /// instruction that does not change the flow, the step lands exactly on
    /// the next instruction `x/2i $pc` showed (never two on), on the same
    /// thread. PV (TF in the saved rflags; from the breakpoint) and PVH (TF
    /// in the HVM context, SVM has no monitor trap flag; from where the
    /// stub stopped the vCPU at attach, and after a Ctrl-C).
    @Test(arguments: [("pv-sched", "bp", 40), ("hvm", "attach", 40), ("hvm", "interrupted", 20)])
    func everyStepiLandsOnTheNextInstruction(phase: String, tag: String, count: Int) throws {
        let lab = try Self.lab()
        let gdb = GDBTranscript(text: try lab.text("gdb/\(phase).txt"))
        let steps = gdb.steps.filter { $0.tag == tag }
        #expect(steps.count == count, "\(phase) \(tag): \(gdb.text.suffix(3000))")
        var checked = 0
        for s in steps {
            #expect(s.thread == s.threadAfter, "step \(s.index) changed thread \(s.thread) → \(s.threadAfter)")
            if GDBTranscript.changesFlow(s.insn) || s.next == 0 { continue }
            checked += 1
            #expect(s.after == s.next, "step \(s.index) at 0x\(String(s.pc, radix: 16)) '\(s.insn)': landed at 0x\(String(s.after, radix: 16)), next instruction 0x\(String(s.next, radix: 16))")
        }
        #expect(checked >= count / 4, "only \(checked) straight-line steps")
        // Flow changes still move somewhere (a step never stays put, except a repeat).
        for s in steps where !s.insn.hasPrefix("rep") { #expect(s.after != s.pc, "step \(s.index) stayed at 0x\(String(s.pc, radix: 16)) '\(s.insn)'") }
    }

    /// PV guest, two vCPUs: the breakpoint stop is reported on the vCPU
    /// that hit it (its rip is the breakpoint); with `scheduler-locking
    /// step`/`on` only that vCPU moves (the other's registers stay exactly
    /// as they were across three stepi and a 4 s continue); a Ctrl-C of
    /// every vCPU stops on the thread gdb had selected (thread 2).
    @Test func pvStopThreadAndSchedulerLocking() throws {
        let lab = try Self.lab(), gdb = try Self.pv(lab)
        let bp = try Self.fact(lab, "bp_pv")
        let hit = try #require(gdb.selected("bp"), "\(gdb.step("at breakpoint"))")
        #expect(gdb.regs("bp")[hit]?["rip"] == bp, "thread \(hit) reported, regs \(gdb.regs("bp"))")
        #expect(gdb.step("continue to breakpoint").contains("Thread \(hit) "), "\(gdb.step("continue to breakpoint"))")
        // gdb's own `thread` right after: its current thread is the reported one.
        #expect(gdb.text.contains("@@selected bp thread=\(hit)\n[Current thread is \(hit) "), "\(gdb.step("at breakpoint"))")
        let other = hit == 1 ? 2 : 1
        for (before, after) in [("before-locked-step", "after-locked-step"), ("before-locked-continue", "after-locked-continue")] {
            let b = gdb.regs(before), a = gdb.regs(after)
            #expect(b.count == 2 && a.count == 2, "\(before): \(b) \(after): \(a)")
            #expect(b[other] == a[other], "\(before) → \(after): thread \(other) moved: \(b[other] ?? [:]) → \(a[other] ?? [:])")
            #expect(b[hit] != a[hit], "\(before) → \(after): thread \(hit) did not move")
            #expect(gdb.selected(after) == hit)
        }
        #expect(gdb.step("continue ctrl-c locked").contains("received signal SIGINT"), "\(gdb.step("continue ctrl-c locked"))")
        #expect(gdb.text.contains("@@selected after-locked-continue thread=\(hit)\n[Current thread is \(hit) "), "\(gdb.step("after locked continue"))")
        let cont = gdb.step("continue ctrl-c thread 2")
        #expect(cont.contains("Thread 2 ") && cont.contains("received signal SIGINT"), "\(cont)")
        #expect(gdb.selected("after-ctrl-c") == 2)
        #expect(gdb.step("after ctrl-c thread 2").contains("[Current thread is 2 "), "\(gdb.step("after ctrl-c thread 2"))")
        #expect(gdb.step("detach").contains("etached"))
    }
}

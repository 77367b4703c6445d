import Foundation
import LabTestSupport
import Testing

/// Registers xenctx printed (`-a`): general, segment, fs/gs bases, cr0–cr4.
func xenctxFull(_ t: String) -> [String: UInt64] {
    var r: [String: UInt64] = [:]
    for m in t.matches(of: #/(?:^|\s)([a-z][a-z0-9]*):\s+([0-9a-f]{4,16})\b/#) where r[String(m.1)] == nil {
        r[String(m.1)] = UInt64(m.2, radix: 16)
    }
    if let m = t.firstMatch(of: #/fs: [0-9a-f]+ @ ([0-9a-f]{16})/#) { r["fs_base"] = UInt64(m.1, radix: 16) }
    if let m = t.firstMatch(of: #/gs: [0-9a-f]+ @ ([0-9a-f]{16})/([0-9a-f]{16})/#) {
        r["gs_base_kernel"] = UInt64(m.1, radix: 16); r["gs_base_user"] = UInt64(m.2, radix: 16)
    }
    return r
}

/// Scenario 3, live gdb: the host's gdb attached to the PV guest through
/// `xenscope gdbstub --domain N --tty <virtio port>`, on Debian's Xen (`ci`,
/// no CONFIG_GDBSX) and on the self-built one (`selfbuilt`, CONFIG_GDBSX=y).
@Suite struct LabLiveGDBTests {
    static let profiles = ["ci", "selfbuilt"]

    /// `info threads` lists one thread per vCPU `xl vcpu-list` shows.
    @Test(arguments: profiles) func threadsAreTheVCPUs(profile: String) throws {
        let lab = try LabResults.profile(profile), gdb = try Self.transcript(lab)
        let vcpuList = try lab.text("results/gdb-live/vcpu-list-1.txt")
        let vcpus = vcpuList.split(separator: "\n").filter { $0.hasPrefix("pv ") }.count
        #expect(vcpus == 2)
        let threads = gdb.step("threads").matches(of: #/(?m)^[* ]\s+(\d+)\s+Thread /#).map { Int($0.1)! }
        #expect(threads == (0..<vcpus).map { $0 + 1 }, "\(gdb.step("threads"))")   // no vCPUs listed (a guest gone) must fail, not trap
        for v in 0..<vcpus { #expect(gdb.step("threads").contains("vcpu\(v)")) }
    }

    /// Every register xenctx printed while the stub held the guest paused
    /// equals what gdb's `info registers` shows, for both vCPUs.
    @Test(arguments: profiles) func registersEqualXenctx(profile: String) throws {
        let lab = try LabResults.profile(profile), gdb = try Self.transcript(lab)
        for v in 0..<2 {
            let x = xenctxFull(try lab.text("results/gdb-live/xenctx-vcpu\(v).txt"))
            let g = GDBTranscript.registers(gdb.step("registers vcpu\(v)"))
            #expect(g.count >= 30, "vcpu\(v): \(g.count) registers")
            var pairs: [(String, String)] = ["rip", "rsp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
                                             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
                                             "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "cr0", "cr2", "cr3", "cr4"].map { ($0, $0) }
            pairs.append(("eflags", "flags"))
            for (ours, theirs) in pairs {
                #expect(x[theirs] != nil && g[ours] == x[theirs],
                        "vcpu\(v) \(ours): gdb \(g[ours].map { String($0, radix: 16) } ?? "missing") xenctx \(x[theirs].map { String($0, radix: 16) } ?? "missing")")
            }
            // The active gs base is the kernel's or the user's, the other is k_gs_base.
            let pair = Set([g["gs_base"], g["k_gs_base"]].compactMap { $0 })
            #expect(pair == Set([x["gs_base_kernel"], x["gs_base_user"]].compactMap { $0 }), "vcpu\(v) gs bases")
        }
    }

    /// `x/8gx linux_banner` reads the guest kernel's banner: "Linux version"
    /// and the release dom0 (same kernel) runs.
    @Test(arguments: profiles) func kernelMemoryIsTheBanner(profile: String) throws {
        let lab = try LabResults.profile(profile), gdb = try Self.transcript(lab)
        let words = gdb.words("banner")
        #expect(words.count == 8, "\(gdb.step("banner"))")
        var bytes: [UInt8] = []
        for w in words { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(i)))) } }
        let text = String(decoding: bytes, as: UTF8.self)
        let release = try #require(try lab.text("results/xl-info.txt").firstMatch(of: #/release\s+:\s+(\S+)/#)?.1)
        #expect(text.hasPrefix("Linux version \(release)"), "\(text)")
        // The direct map of a PV guest starts where x86-64 Linux puts it without KASLR.
        #expect(gdb.words("page_offset_base").first == 0xffff_8880_0000_0000, "\(gdb.step("page_offset_base"))")
    }

    /// `bt` starts at the selected vCPU's rip (vcpu0's, as xenctx saw it).
    @Test(arguments: profiles) func backtraceStartsAtRIP(profile: String) throws {
        let lab = try LabResults.profile(profile), gdb = try Self.transcript(lab)
        let x = xenctxFull(try lab.text("results/gdb-live/xenctx-vcpu0.txt"))
        let frame0 = try #require(gdb.step("bt").firstMatch(of: #/#0\s+0x([0-9a-f]+)/#)).1
        #expect(UInt64(frame0, radix: 16) == x["rip"], "\(gdb.step("bt"))")
    }

    /// Debian's Xen lacks CONFIG_GDBSX: the stub says so, gdb cannot plant
    /// the breakpoint and stepi is refused with the reason; the guest does
    /// not move.
    @Test func breakpointsAndStepRefusedWithoutGDBSX() throws {
        let lab = try LabResults.ci(), gdb = try Self.transcript(lab)
        #expect(gdb.step("monitor").contains("built without CONFIG_GDBSX"), "\(gdb.step("monitor"))")
        #expect(try lab.text("results/gdb-live/stub.log").contains("built without CONFIG_GDBSX"))
        let cont = gdb.step("continue with breakpoint")
        #expect(cont.contains("Cannot insert breakpoint 1") || cont.contains("Could not insert breakpoint"), "\(cont)")
        let step = gdb.step("stepi")
        #expect(step.contains("single-step is not possible here: hypervisor built without CONFIG_GDBSX"), "\(step)")
        let x = xenctxFull(try lab.text("results/gdb-live/xenctx-vcpu0.txt"))
        #expect(gdb.printed("pc after stepi") == x["rip"])
    }

    /// `continue` runs the guest (its jiffies advance) until gdb's Ctrl-C
    /// (SIGINT → \x03) stops it with SIGINT.
    @Test(arguments: profiles) func continueAndInterrupt(profile: String) throws {
        let lab = try LabResults.profile(profile), gdb = try Self.transcript(lab)
        #expect(gdb.text.contains("@@sigint sent"))
        #expect(gdb.step("continue").contains("received signal SIGINT"), "\(gdb.step("continue"))")
        let before = try #require(gdb.words("jiffies before continue").first)
        let after = try #require(gdb.words("jiffies after interrupt").first)
        // HZ=250: the 4 s between continue and Ctrl-C are hundreds of ticks (fewer under heavy load).
        #expect(after > before + 10, "jiffies \(before) → \(after)")
    }

    /// Detach lets the guest run on: not paused, its console keeps ticking,
    /// its vCPUs accumulate time.
    @Test(arguments: profiles) func detachLeavesGuestRunning(profile: String) throws {
        let lab = try LabResults.profile(profile), gdb = try Self.transcript(lab)
        #expect(gdb.step("detach").contains("detached"))
        let log = try lab.text("results/gdb-live/log.txt")
        #expect(log.contains("exit=0"), "\(log.suffix(600))")
        let paused = try lab.text("results/gdb-live/xl-list-paused.txt")
        let detached = try lab.text("results/gdb-live/xl-list-detached.txt")
        func state(_ s: String) -> String? {
            s.split(separator: "\n").first { $0.hasPrefix("pv ") }?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).first.map(String.init)
        }
        #expect(state(paused)?.contains("p") == true, "\(paused)")
        #expect(state(detached)?.contains("p") == false, "\(detached)")
        let ticks = try #require(try lab.text("results/gdb-live/after-detach.txt").firstMatch(of: #/ticks_after_detach=(\d+) ticks_11s_later=(\d+)/#))
        #expect(Int(ticks.2)! > Int(ticks.1)!, "console ticks \(ticks.1) → \(ticks.2)")
        func cpuTime(_ s: String) -> Double {
            s.split(separator: "\n").filter { $0.hasPrefix("pv ") }
                .compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first.flatMap { Double($0) } }
                .reduce(0, +)
        }
        let t1 = cpuTime(try lab.text("results/gdb-live/vcpu-list-1.txt")), t2 = cpuTime(try lab.text("results/gdb-live/vcpu-list-2.txt"))
        #expect(t2 > t1, "vCPU time \(t1) → \(t2)")
    }

    /// With CONFIG_GDBSX: a breakpoint on the kernel function dom0's
    /// kallsyms names (the guest runs the same kernel) is hit at exactly that
    /// address, `stepi` moves rip to the next instruction boundary (as gdb
    /// decodes them), `continue` reaches the breakpoint again.
    @Test func breakpointStepContinueWithGDBSX() throws {
        let lab = try LabResults.profile("selfbuilt"), gdb = try Self.transcript(lab)
        #expect(gdb.step("monitor").contains("hypervisor has CONFIG_GDBSX"), "\(gdb.step("monitor"))")
        let facts = try lab.text("results/gdb-live/facts.txt")
        let bp = try #require(facts.firstMatch(of: #/bp=(\w+)@([0-9a-f]{16})/#))
        let address = try #require(UInt64(bp.2, radix: 16))
        #expect(gdb.step("continue to breakpoint").contains("hit Breakpoint 1, 0x\(bp.2) in"), "\(gdb.step("continue to breakpoint"))")
        #expect(gdb.printed("pc at breakpoint") == address)
        let insns = gdb.step("instructions at breakpoint").matches(of: #/(?m)^(?:=>)?\s+0x([0-9a-f]+):/#).compactMap { UInt64($0.1, radix: 16) }
        #expect(insns.count >= 2 && insns[0] == address, "\(gdb.step("instructions at breakpoint"))")
        // One instruction on, as gdb decodes it; one run under TCG landed an
        // instruction further (docs/gdbstub.md, "Not yet"), so the next two
        // boundaries are accepted — never the breakpoint itself or beyond.
        let after = try #require(gdb.printed("pc after stepi"))
        #expect(after > address && after - address <= 30, "stepi: \(gdb.step("stepi"))")
        if insns.count >= 3 {
            #expect(insns[1...2].contains(after), "stepi: \(gdb.step("stepi")) from \(gdb.step("instructions at breakpoint"))")
        }
        #expect(gdb.step("continue again").contains("hit Breakpoint 1, 0x\(bp.2) in"), "\(gdb.step("continue again"))")
        #expect(gdb.printed("pc at breakpoint again") == address)
    }

    /// With CONFIG_GDBSX, the debug registers of the PV guest's vCPUs
    /// (vcpu_guest_context.debugreg): `hbreak` stops at exactly the
    /// function's address on a vCPU thread; `watch` on jiffies_64 (kallsyms'
    /// address) reports old and new value, the new one larger, with the pc
    /// right after an instruction gdb decodes as naming jiffies_64 (a data
    /// breakpoint traps after the write); `rwatch` (gdb falls back from Z3
    /// to an access watchpoint) and `awatch` report a value; after detach
    /// xenctx shows DR0–DR3 clear and no enable bit in DR7 on both vCPUs.
    @Test func debugRegistersWithGDBSX() throws {
        let lab = try LabResults.profile("selfbuilt"), gdb = try Self.transcript(lab)
        let facts = try lab.text("results/gdb-live/facts.txt")
        let bp = try #require(facts.firstMatch(of: #/bp=(\w+)@([0-9a-f]{16})/#))
        let jiffies = try #require(facts.firstMatch(of: #/jiffies_64=([0-9a-f]{16})/#).flatMap { UInt64($0.1, radix: 16) })
        let hb = gdb.step("continue to hbreak")
        let hit = try #require(hb.firstMatch(of: #/Thread (\d+) "vcpu(\d+)" hit Breakpoint \d+, 0x([0-9a-f]{16}) in/#), "\(hb)")
        #expect(String(hit.3) == String(bp.2) && Int(hit.1)! == Int(hit.2)! + 1, "\(hb)")
        #expect(gdb.printed("at hbreak") == UInt64(bp.2, radix: 16), "\(gdb.step("at hbreak"))")
        let expr = "*(unsigned long *)0x\(String(jiffies, radix: 16))"
        for name in ["continue to watch", "continue to watch again"] {
            let w = gdb.step(name)
            let m = try #require(w.firstMatch(of: #/hit Hardware watchpoint \d+: (\S+ \S+ \S+)\s+Old value = (\d+)\s+New value = (\d+)/#), "\(name): \(w)")
            #expect(String(m.1) == expr, "\(w)")
            #expect(UInt64(m.3)! > UInt64(m.2)!, "\(name): \(w)")
        }
        // The instruction ending exactly at the stop pc names jiffies_64.
        let pc = try #require(gdb.printed("at watch"))
        let writers = gdb.text.matches(of: #/@@writer pc=([0-9a-f]+) start=([0-9a-f]+) len=(\d+) names=1 insn=(.*)/#)
        #expect(writers.contains { UInt64($0.1, radix: 16) == pc }, "pc 0x\(String(pc, radix: 16)): \(gdb.text.matches(of: #/@@writer.*/#).map { $0.0 })")
        let rw = gdb.step("continue to rwatch")
        #expect(rw.contains("hit Hardware read watchpoint") && rw.contains(expr) && rw.contains("Value = "), "\(rw)")
        let aw = gdb.step("continue to awatch")
        #expect(aw.contains("hit Hardware access (read/write) watchpoint") && (aw.contains("Value = ") || aw.contains("New value = ")), "\(aw)")
        for v in 0..<2 {
            let x = xenctxFull(try lab.text("results/gdb-live/xenctx-detached-vcpu\(v).txt"))
            let dr7 = try #require(x["dr7"], "vcpu\(v): no dr7 in xenctx -a")
            #expect(dr7 & 0xff == 0, "vcpu\(v) dr7 0x\(String(dr7, radix: 16))")
            #expect([x["dr0"], x["dr1"], x["dr2"], x["dr3"]] == [0, 0, 0, 0], "vcpu\(v): \(x)")
        }
    }

    /// With CONFIG_GDBSX, Xen stops a debugged domain on every int3 its
    /// kernel runs, the guest's own too. The selfbuilt guest arms a kprobe
    /// on its nanosleep path (lab/domU/init): while gdb runs it, the stub
    /// hands each of those traps back (its log counts them), gdb never sees
    /// a SIGTRAP, and the guest's kernel counted the hits: its tick lines'
    /// kprobe-hits grow at every tick (each tick sleeps), and it did not
    /// oops (running the middle of an instruction would). gdb can also
    /// break on the kprobe's int3 itself; a stepi there stays on it.
    @Test func guestOwnInt3sAreHandedBack() throws {
        let lab = try LabResults.profile("selfbuilt"), gdb = try Self.transcript(lab)
        let console = try lab.text("results/gdb-live/guest-console.log")
        let armed = try #require(console.firstMatch(of: #/XENSCOPE-DOMU: kprobe (\S+) p:kprobes\/xsprobe /#), "\(console.prefix(3000))")
        #expect(armed.1 != "none")
        let hits = console.matches(of: #/XENSCOPE-DOMU: tick \d+ kprobe-hits=(\d+)/#).compactMap { Int($0.1) }
        #expect(hits.count >= 3, "\(console.suffix(2000))")
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0 < $1 }, "kprobe hits per tick: \(hits)")
        // die()'s header ("int3: 0000 [#1] …", "invalid opcode: 0000 [#1] …")
        // and panics; a soft-lockup warning after a long `xl pause` is no crash.
        #expect(!console.contains("[#1]") && !console.contains("Kernel panic"), "\(console.suffix(3000))")
        let log = try lab.text("results/gdb-live/stub.log")
        let handed = try #require(log.firstMatch(of: #/handed (\d+) of the guest's own int3 traps back to it, at (\d+) addresses/#), "\(log)")
        #expect((Int(handed.1) ?? 0) >= 1 && (Int(handed.2) ?? 0) >= 1, "\(log)")
        #expect(!gdb.text.contains("SIGTRAP"), "\(gdb.text)")
        // A breakpoint of ours on the kprobe's own int3 is hit as ours; the
        // first stepi runs the guest's int3 and stays on it; the second lets
        // the guest take it and steps on from wherever its handler went.
        let facts = try lab.text("results/gdb-live/facts.txt")
        let kp = try #require(facts.firstMatch(of: #/kprobe=([0-9a-f]{16})/#).flatMap { UInt64($0.1, radix: 16) }, "\(facts)")
        #expect(gdb.step("continue to kprobe").contains("hit Breakpoint"), "\(gdb.step("continue to kprobe"))")
        #expect(gdb.printed("at kprobe") == kp, "\(gdb.step("at kprobe"))")
        #expect(gdb.printed("kprobe stepi") == kp, "\(gdb.step("kprobe stepi"))")
        // Whether the second stepi gets off the int3 is not reliable yet
        // (two CI boots of six stayed on it; docs/gdbstub.md): only that
        // it stops somewhere gdb can print.
        #expect(gdb.printed("kprobe stepi again") != nil, "\(gdb.step("kprobe stepi again"))")
    }

    static func transcript(_ lab: LabResults) throws -> GDBTranscript {
        GDBTranscript(text: try lab.text("gdb/stub.txt"))
    }
}

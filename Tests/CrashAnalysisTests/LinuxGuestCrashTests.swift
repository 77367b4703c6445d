import BinaryIO
import CrashAnalysis
import CrashTestSupport
import DWARF
import Dump
import Foundation
import Testing

/// `xenscope crash` on Debian's own kernel, crashed with sysrq-c on CPU 1
/// under QEMU and dumped three ways (samples/guests/linux), checked against
/// the guest's serial console, Debian's `crash` and gdb.
@Suite struct LinuxGuestCrashTests {
    let guest: LinuxGuest
    init() throws { guest = try LinuxGuest.shared() }

    func session(_ i: Int) throws -> CrashSession { try CrashSession(dumpPath: guest.dumps[i], elfPath: guest.vmlinux) }

    /// The serial console without its carriage returns.
    func serial() throws -> String {
        // Bytewise: "\r\n" is one Character to String, so String.replacing would not see the "\r".
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: guest.serialLog)).filter { $0 != 0x0d }, as: UTF8.self)
    }

    /// Lines of the serial console without their `[    4.620078] ` prefix.
    func serialBodies() throws -> [String] {
        try serial().split(separator: "\n").map { l in
            if l.hasPrefix("["), let r = l.firstIndex(of: "]") { return String(l[r...].dropFirst(2)) }
            return String(l)
        }
    }

    /// Debian's crash, run once per test process on the ELF dump.
    static let crashOutput: Result<String, GuestError> = {
        do { return .success(try LinuxGuest.shared().crash(LinuxGuest.shared().elfDump, commands: ["log", "bt -a"])) }
        catch let e as GuestError { return .failure(e) } catch { return .failure(GuestError(message: "\(error)")) }
    }()

    @Test(arguments: 0..<3)
    func vmcoreinfoNamesTheKernel(_ i: Int) throws {
        let s = try session(i)
        let k = try #require(s.linuxKernel)
        #expect(k.osRelease == guest.kernelRelease)
        #expect(k.buildID == s.symbols!.buildID)
        #expect(k.pageSize == 4096)
        #expect(k.physBase != nil)
        // The kernel printed its slide when it panicked.
        let line = try #require(try serialBodies().first { $0.hasPrefix("Kernel Offset: 0x") })
        let printed = UInt64(line.dropFirst("Kernel Offset: 0x".count).prefix { $0.isHexDigit }, radix: 16)
        #expect(k.kaslrOffset == printed)
        #expect(k.kaslrOffset != 0)
        #expect(s.symbols!.bias == k.kaslrOffset)
        let m = s.checkSymbols()
        #expect(m.verdict == .match)
        #expect(m.message.contains("build-id \(k.buildID!) (from the dump's VMCOREINFO)"))
    }

    /// Our panicker's kernel.elf given for the Linux dump: caught by build-id.
    @Test func wrongELFIsDetectedByBuildID() throws {
        let panicker = try PanickerGuest.shared()
        let s = try CrashSession(dumpPath: guest.kdumpDump, elfPath: panicker.kernelELF)
        let m = s.checkSymbols()
        #expect(m.verdict == .mismatch)
        #expect(m.message.contains("does NOT match the dump"))
        #expect(m.message.contains(s.symbols!.buildID!))
        #expect(m.message.contains(s.linuxKernel!.buildID!))
    }

    /// A kernel before 5.14 has no BUILD-ID in VMCOREINFO: the check falls
    /// back to linux_banner in memory vs the file. The same dump with that
    /// line taken out of its note stands in for one.
    @Test func bannerCheckWithoutBuildID() throws {
        let old = WithoutBuildID(try openDump(path: guest.kdumpDump))
        #expect(old.vmcoreinfo?.buildID == nil && old.vmcoreinfo?.osRelease == guest.kernelRelease)
        let s = CrashSession(dump: old, symbols: try Symbolizer(path: guest.vmlinux, bias: old.vmcoreinfo!.kernelOffset!))
        let m = s.checkSymbols()
        #expect(m.verdict == .match, "\(m.message)")
        let banner = try #require(try serialBodies().first { $0.hasPrefix("Linux version ") })
        #expect(m.message.contains("the banner \"\(banner)\" is in memory at 0x"), "\(m.message)")
        let panicker = try PanickerGuest.shared()
        let wrong = CrashSession(dump: old, symbols: try Symbolizer(path: panicker.kernelELF, bias: old.vmcoreinfo!.kernelOffset!))
        #expect(wrong.checkSymbols().verdict == .mismatch)
    }

    /// A VMCOREINFO whose printk layout puts a field outside its struct is
    /// refused with a message naming the dump, not read out of bounds.
    @Test func hostilePrintkLayoutIsRefused() throws {
        let bad = WithoutBuildID(try openDump(path: guest.kdumpDump), replacing: ["SIZE(prb_desc)=24": "SIZE(prb_desc)=4"])
        let s = CrashSession(dump: bad, symbols: try Symbolizer(path: guest.vmlinux, bias: bad.vmcoreinfo!.kernelOffset!))
        #expect(throws: CrashError.badConsoleRing("\(guest.kdumpDump): VMCOREINFO lacks a usable printk_ringbuffer layout (missing, or fields outside their structs; a kernel before 5.10 keeps the old log_buf, not read here)")) {
            try s.linuxLog()
        }
    }

    /// The printk ring, rendered as the console prints it (a record's later
    /// lines get its timestamp too), is the serial log byte for byte.
    @Test(arguments: 0..<3)
    func printkRingIsTheSerialConsole(_ i: Int) throws {
        let s = try session(i)
        let records = try s.printkRecords()
        #expect(records.first?.sequence == 0)
        #expect(records.map(\.sequence) == Array(0..<UInt64(records.count)))
        var console = ""
        for r in records {
            let ts = String(format: "[%5llu.%06llu] ", r.timestampNanoseconds / 1_000_000_000, r.timestampNanoseconds % 1_000_000_000 / 1000)
            for line in r.text.split(separator: "\n", omittingEmptySubsequences: false) { console += ts + line + "\n" }
        }
        #expect(console == (try serial()))
        #expect(records.contains { $0.text == "sysrq: Trigger a crash" && $0.level == 6 })
        #expect(records.contains { $0.text == "Kernel panic - not syncing: sysrq triggered crash" && $0.level == 0 })
    }

    /// `xenscope crash log` prints exactly what Debian's `crash log` prints.
    @Test func logIsCrashsLog() throws {
        let out = try Self.crashOutput.get()
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        let logLines = lines.drop { !$0.hasPrefix("[") }.prefix { !$0.hasPrefix("PID: ") }
        let crashLog = logLines.joined(separator: "\n") + "\n"
        for i in 0..<3 {
            let log = try session(i).consoleLog()
            #expect(log.text == crashLog, "dump \(guest.dumps[i])")
            #expect(log.source.hasPrefix("printk ring ("))
        }
    }

    @Test(arguments: 0..<3)
    func panicCPUAndTask(_ i: Int) throws {
        let s = try session(i)
        let bts = try s.backtraces()
        let p = s.panicInfo(log: try s.consoleLog())
        #expect(p.message == "Kernel panic - not syncing: sysrq triggered crash")
        #expect(p.cpu == 1)
        #expect(p.cpuSource == "panic_cpu variable")
        // The kernel's own line: "CPU: 1 PID: 93 Comm: sh Not tainted …".
        let line = try #require(try serialBodies().first { $0.hasPrefix("CPU: 1 PID: ") })
        let f = line.split(separator: " ")
        let task = try #require(bts.first { $0.cpu == 1 }?.task)
        #expect(task.pid == Int(f[3]))
        #expect(task.command == String(f[5]))
        #expect(task.cpu == 1)
        // The other CPU runs the idle task.
        let idle = try #require(bts.first { $0.cpu == 0 }?.task)
        #expect(idle.pid == 0)
        #expect(idle.command == "swapper/0")
    }

    /// The panicking CPU's frames are the reliable entries of the trace the
    /// kernel printed (minus dump_stack_lvl, which ran before the dump), the
    /// user-mode registers are those it printed, and nothing follows them.
    @Test(arguments: 0..<3)
    func panicBacktraceIsTheKernelsOwn(_ i: Int) throws {
        let s = try session(i)
        let bt = try #require(try s.backtraces().first { $0.cpu == 1 })
        let body = try serialBodies()
        let start = try #require(body.firstIndex(of: "Call Trace:"))
        let block = body[start...].prefix { $0 != " </TASK>" }
        let reliable = block.filter { $0.hasPrefix(" ") && !$0.hasPrefix(" ?") && !$0.hasPrefix(" <") }
            .map { String($0.dropFirst().prefix { $0 != "/" }) }
        // The dump may catch the CPU inside an interrupt taken in panic's
        // delay loop (interrupts are on there; a fresh boot decides): then
        // the handler's frames and a kernel-mode pt_regs come first. From
        // delay_tsc on, the stack is the same either way.
        let all = bt.frames.filter { !$0.inlined }
        let delay = try #require(all.firstIndex { $0.function == "delay_tsc" }, "\(all.map { $0.function ?? "?" })")
        let physical = Array(all[delay...])
        let first = try #require(bt.frames.firstIndex { $0.function == "delay_tsc" && !$0.inlined }) - 1
        if delay > 0 {
            #expect(bt.exceptionFrames.contains { !$0.userMode && $0.afterFrame < first }, "an interrupt's pt_regs before delay_tsc")
        }
        #expect(bt.frames[first].function == "__preempt_count_add" && bt.frames[first].inlined)
        #expect(reliable.first?.hasPrefix("dump_stack_lvl+") == true)
        // sysrq_handle_crash … do_syscall_64 by name and offset; panic by
        // name only: when the kernel printed its trace panic was calling
        // dump_stack (+0x118), at the dump it is in its delay loop (mdelay).
        #expect(physical[1].symbol?.hasPrefix("panic+0x") == true)
        #expect(reliable[1].hasPrefix("panic+0x"))
        #expect(physical.dropFirst(2).dropLast().map { $0.symbol ?? "?" } == Array(reliable.dropFirst(2).dropLast()))
        #expect(physical.count == reliable.count)
        #expect(physical.last?.function == "entry_SYSCALL_64")
        #expect(bt.stopReason == "end of stack (user-mode registers)")
        // Inline frames: delay_tsc's __preempt_count_add, proc_reg_write's pde_write, do_syscall_64's do_syscall_x64.
        #expect(bt.frames[first...].filter(\.inlined).map { $0.function ?? "?" } == ["__preempt_count_add", "pde_write", "do_syscall_x64"])
        let user = try #require(bt.exceptionFrames.last)
        #expect(bt.exceptionFrames.filter(\.userMode).count == 1)
        #expect(user.userMode)
        #expect(user.afterFrame == bt.frames.count - 1)
        let r = user.registers
        func hex(_ n: String, _ w: Int = 16) -> String {
            let s = String(r[n]!, radix: 16); return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        let printed = Array(block.drop { !$0.hasPrefix("RIP: ") }.prefix(8))
        #expect(printed.first == "RIP: \(hex("cs", 4)):0x\(String(r["rip"]!, radix: 16))")
        #expect(printed.contains("RSP: \(hex("ss", 4)):\(hex("rsp")) EFLAGS: \(hex("eflags", 8)) ORIG_RAX: \(hex("orig_rax"))"))
        #expect(printed.contains("RAX: \(hex("rax")) RBX: \(hex("rbx")) RCX: \(hex("rcx"))"))
        #expect(printed.contains("RDX: \(hex("rdx")) RSI: \(hex("rsi")) RDI: \(hex("rdi"))"))
        #expect(printed.contains("RBP: \(hex("rbp")) R08: \(hex("r8")) R09: \(hex("r9"))"))
        #expect(printed.contains("R10: \(hex("r10")) R11: \(hex("r11")) R12: \(hex("r12"))"))
        #expect(printed.contains("R13: \(hex("r13")) R14: \(hex("r14")) R15: \(hex("r15"))"))
    }

    /// The other CPU was idle when the panic's reboot IPI stopped it: its
    /// stack runs from stop_this_cpu on the IRQ stack, through the interrupt
    /// entry's kernel-mode pt_regs, down the idle loop to the start-up code.
    @Test(arguments: 0..<3)
    func otherCPUIsStoppedFromIdle(_ i: Int) throws {
        let s = try session(i)
        let bt = try #require(try s.backtraces().first { $0.cpu == 0 })
        let physical = bt.frames.filter { !$0.inlined }.map { $0.function ?? "?" }
        #expect(Array(physical.prefix(4)) == ["stop_this_cpu", "__sysvec_reboot", "sysvec_reboot", "asm_sysvec_reboot"])
        #expect(bt.stackSwitches == [StackSwitch(afterFrame: 2, stack: "IRQ stack")])
        let e = try #require(bt.exceptionFrames.first)
        #expect(bt.exceptionFrames.count == 1)
        #expect(!e.userMode)
        #expect(e.registers["cs"] == 0x10)
        #expect(bt.frames[e.afterFrame + 1].pc == e.registers["rip"])
        #expect(bt.frames[e.afterFrame + 1].function == "native_safe_halt")
        for f in ["default_idle_call", "do_idle", "cpu_startup_entry", "start_kernel"] { #expect(physical.contains(f), "\(f)") }
        #expect(bt.stopReason == "end of stack (CPU start-up code)")
    }

    /// The command line on the kdump form: summary text, `--json`, `log`, `bt`.
    @Test func commandLine() throws {
        let xs = xenscopeDebugBinary()
        let s = try session(2)
        let text = try PanickerGuest.run(xs, ["crash", guest.kdumpDump, "--elf", guest.vmlinux], what: "xenscope crash")
        let k = try #require(s.linuxKernel)
        #expect(text.contains("    KERNEL: Linux \(guest.kernelRelease), KASLR offset 0x\(String(k.kaslrOffset, radix: 16))\n"))
        #expect(text.contains("     PANIC: Kernel panic - not syncing: sysrq triggered crash\n"))
        #expect(text.contains("       CPU: 1 (from the panic_cpu variable)\n"))
        let pid = try #require(try serialBodies().first { $0.hasPrefix("CPU: 1 PID: ") }).split(separator: " ")[3]
        #expect(text.contains("CPU 1 (panicked):\nPID: \(pid) "))
        let json = try PanickerGuest.run(xs, ["crash", guest.kdumpDump, "--elf", guest.vmlinux, "--json"], what: "xenscope crash --json")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let kernel = try #require(o["kernel"] as? [String: Any])
        #expect((kernel["kaslrOffset"] as? NSNumber)?.uint64Value == k.kaslrOffset)
        #expect(kernel["osRelease"] as? String == guest.kernelRelease)
        #expect((o["panic"] as? [String: Any])?["cpu"] as? Int == 1)
        let bts = try #require(o["backtraces"] as? [[String: Any]])
        let b1 = try #require(bts.first { $0["cpu"] as? Int == 1 })
        #expect((b1["task"] as? [String: Any])?["command"] as? String == "sh")
        #expect(((b1["exceptionFrames"] as? [[String: Any]])?.first)?["userMode"] as? Bool == true)
        let log = try PanickerGuest.run(xs, ["crash", "log", guest.kdumpDump, "--elf", guest.vmlinux], what: "xenscope crash log")
        #expect(log == (try s.linuxLog().text))
        let bt = try PanickerGuest.run(xs, ["crash", "bt", "--cpu", "1", guest.kdumpDump, "--elf", guest.vmlinux], what: "xenscope crash bt")
        #expect(bt.hasSuffix("    ORIG_RAX: \(String(format: "%016llx", try #require(s.backtraces().first { $0.cpu == 1 }?.exceptionFrames.last?.registers["orig_rax"])))  CS: 0033  SS: 002b\n"))
    }

    /// A kdump cut at 20 MB: what the file holds is still shown (CPUs,
    /// registers, notes), the damage is one line naming the file and the byte
    /// offset — in the output of `info`/`summary`, on standard error for the
    /// others — and every command exits 2 instead of 0.
    @Test func truncatedDumpExitsTwoAndNamesTheOffset() throws {
        let xs = xenscopeDebugBinary()
        let dir = NSTemporaryDirectory() + "xenscope-cutdump-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cut = dir + "/cut.kdump"
        let h = try #require(FileHandle(forReadingAtPath: guest.kdumpDump))
        try Data(try #require(try h.read(upToCount: 20_000_000))).write(to: URL(fileURLWithPath: cut))
        try h.close()

        func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: xs)
            p.arguments = args
            let o = dir + "/out", e = dir + "/err"
            FileManager.default.createFile(atPath: o, contents: nil)
            FileManager.default.createFile(atPath: e, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: o))
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: e))
            try p.run()
            p.waitUntilExit()
            return (p.terminationStatus, try String(contentsOfFile: o, encoding: .utf8), try String(contentsOfFile: e, encoding: .utf8))
        }
        let info = try run(["crash", "info", cut])
        #expect(info.status == 2)
        #expect(info.err == "")
        #expect(info.out.hasPrefix("\(cut): kdump-flattened, x86_64, 2 CPU(s)\n"))
        let problems = info.out.split(separator: "\n").filter { $0.hasPrefix("  problem: ") }.map { String($0.dropFirst(11)) }
        #expect(problems.count == 1)
        let problem = try #require(problems.first)
        #expect(problem.hasPrefix("\(cut): at byte "))
        #expect(problem.hasSuffix(" bytes runs past the end of the file (truncated); stream ends here"))
        let summary = try run(["crash", "summary", cut, "--elf", guest.vmlinux])
        #expect(summary.status == 2)
        #expect(summary.out.contains("   PROBLEM: \(problem)\n"))
        let regs = try run(["crash", "regs", cut])
        #expect(regs.status == 2)
        #expect(regs.out.hasPrefix("CPU 0: NT_PRSTATUS"))
        #expect(regs.out.contains("\nCPU 1: NT_PRSTATUS"))
        #expect(regs.err == "xenscope: \(problem)\n")

        // Cut before the printk ring's pages: `log` cannot read it. It used to
        // exit 1 naming only the unreadable address; now the damage too, and 2.
        let short = dir + "/short.kdump"
        try Data(try Data(contentsOf: URL(fileURLWithPath: cut)).prefix(5_000_000)).write(to: URL(fileURLWithPath: short))
        let shortInfo = try run(["crash", "info", short])
        let shortProblems = shortInfo.out.split(separator: "\n").filter { $0.hasPrefix("  problem: ") }.map { String($0.dropFirst(11)) }
        #expect(shortProblems.count == 1)
        let log = try run(["crash", "log", short, "--elf", guest.vmlinux])
        #expect(log.status == 2)
        #expect(log.out == "")
        let lines = log.err.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3)
        #expect(lines.first?.hasPrefix("Error: 0x") == true && lines.first?.contains(": \(short): at byte ") == true)
        #expect(lines.dropFirst().first.map(String.init) == "xenscope: \(try #require(shortProblems.first))")
    }

    /// A cut `--elf` image: `crash` used to print the same output as with the
    /// whole file and exit 0 without a word about the damage. Now each problem
    /// is one line naming the file and offset (as `symbolize` says it), the
    /// output is unchanged (the dump is whole) and the exit status is 2.
    @Test func cutSymbolFileIsNamedAndExitsTwo() throws {
        let xs = PanickerGuest.packageRoot + "/.build/debug/xenscope"
        #expect(FileManager.default.isExecutableFile(atPath: xs), "build xenscope first (swift build --build-tests)")
        let dir = NSTemporaryDirectory() + "xenscope-cutelf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cut = dir + "/vmlinux", size = 3_000_000
        let h = try #require(FileHandle(forReadingAtPath: guest.vmlinux))
        let head = try #require(try h.read(upToCount: size))
        try h.close()
        try head.write(to: URL(fileURLWithPath: cut))
        // Where the damage lies, from the ELF header and program headers themselves.
        let b = [UInt8](head)
        func word<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        }
        let shoff = word(40, UInt64.self), phoff = Int(word(32, UInt64.self))
        let phentsize = Int(word(54, UInt16.self)), phnum = Int(word(56, UInt16.self))
        let note = try #require((0..<phnum).map { phoff + $0 * phentsize }.first { word($0, UInt32.self) == 4 })
        let noteOffset = word(note + 8, UInt64.self), noteSize = word(note + 32, UInt64.self)
        #expect(shoff > UInt64(size) && noteOffset > UInt64(size))

        func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: xs)
            p.arguments = args
            let o = dir + "/out", e = dir + "/err"
            FileManager.default.createFile(atPath: o, contents: nil)
            FileManager.default.createFile(atPath: e, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: o))
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: e))
            try p.run()
            p.waitUntilExit()
            return (p.terminationStatus, try String(contentsOfFile: o, encoding: .utf8), try String(contentsOfFile: e, encoding: .utf8))
        }
        let whole = try run(["crash", "info", guest.kdumpDump, "--elf", guest.vmlinux])
        #expect(whole.status == 0)
        #expect(whole.err == "")
        let damaged = try run(["crash", "info", guest.kdumpDump, "--elf", cut])
        #expect(damaged.status == 2)
        #expect(damaged.out == whole.out)
        #expect(damaged.err == """
            xenscope: \(cut): at byte 40 (0x28): section header table offset 0x\(String(shoff, radix: 16)) lies beyond the end of the file (\(size) bytes); sections ignored
            xenscope: \(cut): at byte \(noteOffset) (0x\(String(noteOffset, radix: 16))): note area of \(noteSize) bytes lies beyond the end of the file (\(size) bytes); skipped

            """)
    }

    /// Against Debian's crash on the same dump: its frames where it is right
    /// (the same return addresses), the same user-mode registers; the frames
    /// it adds between do_syscall_64 and the entry code are stale stack words
    /// (the kernel itself marks them `?`); it starts at panic, missing the
    /// delay loop the CPU was in.
    @Test func backtraceAgainstCrash() throws {
        let out = try Self.crashOutput.get()
        let s = try session(0)
        let bts = try s.backtraces()
        // crash's frames per PID block, in order: (function, pc).
        var blocks: [[(String, UInt64)]] = []
        var regs: [[String]] = []
        for l in out.split(separator: "\n").map(String.init) {
            if l.hasPrefix("PID: ") { blocks.append([]); regs.append([]); continue }
            guard !blocks.isEmpty else { continue }
            let t = l.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("#"), let r = t.range(of: "] "), let at = t.range(of: " at ") {
                blocks[blocks.count - 1].append((String(t[r.upperBound..<at.lowerBound]), UInt64(t[at.upperBound...], radix: 16) ?? 0))
            } else if t.contains(": ") { regs[regs.count - 1].append(t) }
        }
        // `bt -a` lists CPU 0 then CPU 1; the first block is crash's own `bt` of the panic task.
        let crash1 = try #require(blocks.last)
        let ours1 = try #require(bts.first { $0.cpu == 1 }).frames.filter { !$0.inlined }
        let ourPCs = Set(ours1.map(\.pc))
        #expect(crash1.first?.0 == "panic")
        #expect(Array(ours1.dropFirst().map(\.pc).prefix(8)) == crash1.prefix(8).map(\.1))
        #expect(ours1.last?.pc == crash1.last?.1)
        let extra = crash1.filter { !ourPCs.contains($0.1) }.map(\.0)
        #expect(extra.count == crash1.count - 9)
        let questioned = Set(try serialBodies().filter { $0.hasPrefix(" ? ") }.map { String($0.dropFirst(3).prefix { $0 != "+" }) })
        #expect(extra.allSatisfy { questioned.contains($0) }, "crash's extra frames \(extra) are not stale entries the kernel marked '?'")
        // crash's register block under the entry frame is our user-mode frame.
        let ours = try #require(bts.first { $0.cpu == 1 }?.exceptionFrames.last)
        let text = formatExceptionFrame(ours).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(Array(regs.last!.suffix(7)) == text)
        // CPU 0: the same first three frames (stop_this_cpu, __sysvec_reboot, sysvec_reboot).
        let crash0 = blocks[blocks.count - 2]
        let ours0 = try #require(bts.first { $0.cpu == 0 }).frames.filter { !$0.inlined }
        #expect(crash0.prefix(3).map(\.0) == ["stop_this_cpu", "__sysvec_reboot", "sysvec_reboot"])
        #expect(ours0.dropFirst().prefix(2).map(\.pc) == crash0.dropFirst().prefix(2).map(\.1))
        // Where crash goes wrong: after "--- <IRQ stack> ---" it prints an
        // exception frame from the wrong place (it warns "possibly bogus");
        // the real one interrupted native_safe_halt.
        #expect(out.contains("WARNING: possibly bogus exception frame"))
        let real = try #require(bts.first { $0.cpu == 0 }?.exceptionFrames.first)
        let crashRIP = regs[regs.count - 2].first { $0.hasPrefix("RIP: ") }
        #expect(crashRIP != nil && crashRIP != formatExceptionFrame(real).split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) })
    }

    /// Against gdb on the paging ELF dump (told the KASLR offset): the same
    /// functions and lines down to the entry code, where gdb goes on into
    /// user-space values and we stop.
    @Test func backtraceAgainstGDB() throws {
        let s = try session(1)
        let k = try #require(s.linuxKernel)
        let text = try PanickerGuest.run("/usr/bin/env", ["gdb", "-batch", "-nx", "-ex", "symbol-file -o 0x\(String(k.kaslrOffset, radix: 16)) \(guest.vmlinux)",
                                                          "-ex", "core-file \(guest.pagingDump)", "-ex", "thread apply all bt 40"],
                                         what: "running gdb (installed by scripts/install-deps.sh)", timeout: 900)
        let gdb = parseGDBBacktraces(text)
        let bts = try s.backtraces()
        for cpu in 0..<2 {
            let ours = bts.first { $0.cpu == cpu }!.frames.map { GDBFrame(function: $0.function ?? "??", line: $0.location?.line) }
            let theirs = try #require(gdb[cpu + 1])
            let n = min(ours.count, theirs.count)
            #expect(n >= 5)
            #expect(Array(theirs.prefix(n)) == Array(ours.prefix(n)), "CPU \(cpu)")
            if cpu == 1 {
                #expect(theirs.count > ours.count, "gdb is expected to run on past the user-mode frame")
                #expect(theirs[ours.count].function == "??")
            }
        }
    }
}

/// A dump whose VMCOREINFO lacks `BUILD-ID=`, as Linux before 5.14 writes
/// it (and optionally has other lines replaced).
final class WithoutBuildID: Dump {
    let base: any Dump
    let replacing: [String: String]
    init(_ base: any Dump, replacing: [String: String] = [:]) { self.base = base; self.replacing = replacing }
    var path: String { base.path }
    var format: DumpFormat { base.format }
    var architecture: Architecture { base.architecture }
    var pageSize: Int { base.pageSize }
    var cpus: [CPUState] { base.cpus }
    var notes: [DumpNote] {
        base.notes.map { n in
            guard n.name == "VMCOREINFO" else { return n }
            var c = n
            let text = String(decoding: n.descriptor.prefix { $0 != 0 }, as: UTF8.self)
            c.descriptor = Array(text.split(separator: "\n").filter { !$0.hasPrefix("BUILD-ID=") }.map { replacing[String($0)] ?? String($0) }.joined(separator: "\n").utf8)
            return c
        }
    }
    var diagnostics: [InputError] { base.diagnostics }
    var physicalRanges: [Range<UInt64>] { base.physicalRanges }
    func withPage<R>(_ pfn: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R { try base.withPage(pfn, body) }
    func machineToPhysical(_ mfn: UInt64) -> UInt64? { base.machineToPhysical(mfn) }
}

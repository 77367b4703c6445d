import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import Testing

/// `xenscope crash` on Debian trixie's kernel (Linux 6.12: threads on
/// `signal_struct.thread_head`, modules in `module.mem[]`, `pcpu_hot`,
/// `ret_from_fork_asm`), crashed with sysrq-c on CPU 1 under QEMU with a
/// multi-threaded process running (samples/guests/linux-trixie), checked
/// against the guest's serial console and drgn on the same dump. The
/// `ps`/`bt --all-tasks`/`mod` comparisons with drgn are in LinuxTaskTests
/// and LinuxModuleTests ("x86-64-trixie"); only facts the guest's /init
/// fixes or its own console printed are expected here.
@Suite(.serialized) struct LinuxTrixieCrashTests {
    let guest: LinuxTrixieGuest
    init() throws { guest = try LinuxTrixieGuest.shared() }

    /// The serial console's `CPU: 1 UID: 0 PID: 150 Comm: sh …` line of the panic.
    func serialPanicLine() throws -> (cpu: Int, pid: Int, comm: String) {
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: guest.serialLog)).filter { $0 != 0x0d }, as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.contains("] CPU: ") && $0.contains(" Comm: ") }, "no CPU line on the console")
        let words = line.split(separator: " ").map(String.init)
        func after(_ w: String) -> String? { words.firstIndex(of: w).flatMap { $0 + 1 < words.count ? words[$0 + 1] : nil } }
        return (try #require(after("CPU:").flatMap { Int($0) }), try #require(after("PID:").flatMap { Int($0) }), try #require(after("Comm:")))
    }

    /// The panic, its CPU and task, the kernel, on both dump forms.
    @Test(arguments: [0, 1])
    func panicCPUAndTask(_ i: Int) throws {
        let s = try CrashSession(dumpPath: guest.dumps[i], elfPath: guest.vmlinux)
        #expect(s.linuxKernel?.osRelease == guest.kernelRelease)
        #expect(guest.kernelRelease.hasPrefix("6.12."), "trixie's kernel: \(guest.kernelRelease)")
        #expect(s.checkSymbols().verdict == .match)
        let log = try s.consoleLog()
        let panic = s.panicInfo(log: log)
        #expect(panic.message == "Kernel panic - not syncing: sysrq triggered crash")
        let printed = try serialPanicLine()
        #expect(panic.cpu == printed.cpu && panic.cpuSource == "panic_cpu variable", "\(panic)")
        let current = s.linuxCurrentTasks()[printed.cpu]
        #expect(current?.pid == printed.pid && current?.command == printed.comm, "\(String(describing: current)) vs \(printed)")
        #expect(log.text.contains("xenscope-guest: qemu_fw_cfg loaded, threads started, crashing on CPU 1"))
    }

    /// The panicking CPU's backtrace equals drgn's crashed thread frame by
    /// frame (function incl. inline frames, pc), down to the system-call
    /// entry, whose user-mode registers end it.
    @Test(arguments: [0, 1])
    func panickingCPUBacktraceEqualsDrgn(_ i: Int) throws {
        let s = try CrashSession(dumpPath: guest.dumps[i], elfPath: guest.vmlinux)
        let cpu = try #require(s.panicInfo(log: try s.consoleLog()).cpu)
        let bt = try #require(try s.backtraces().first { $0.cpu == cpu })
        // drgn reads the ELF form only; both forms hold the same memory.
        let theirs = try DrgnTask.crashedStack(dump: guest.elfDump, vmlinux: guest.vmlinux)
        var kernel = Array(theirs.prefix { $0.pc >> 63 == 1 })
        var mine = bt.frames
        // Caught inside an interrupt (it varies from boot to boot): drgn
        // does not read the entry code's pt_regs, compare up to there.
        if let b = (bt.exceptionFrames.filter { !$0.userMode }.map(\.afterFrame) + bt.stackSwitches.map(\.afterFrame)).min() {
            mine = Array(mine.prefix(b + 1)); kernel = Array(kernel.prefix(b + 1))
        } else {
            // drgn goes on into user space from the entry's registers; we stop there.
            #expect(mine.last?.function == "entry_SYSCALL_64" && bt.exceptionFrames.last?.userMode == true, "\(mine.map { $0.function ?? "??" })")
        }
        #expect(kernel.count >= 8, "drgn: \(theirs)")
        #expect(mine.map { $0.function ?? "??" } == kernel.map(\.function), "xenscope \(mine.map { $0.function ?? "??" }) vs drgn \(kernel.map(\.function))")
        #expect(mine.map(\.pc) == kernel.map(\.pc))
        #expect(bt.frames.contains { $0.function == "sysrq_handle_crash" } && bt.frames.contains { $0.function == "panic" })
    }

    /// The multi-threaded process /init starts: one thread group of four
    /// tasks (the thread list 6.7+ keeps on signal_struct), the sleepers and
    /// the crashing shell, all children of init; `crash ps` on the kdump
    /// prints them, and `bt --pid` of a worker thread ends in user mode.
    @Test func threadGroupAndCommandLine() throws {
        let s = try CrashSession(dumpPath: guest.kdumpDump, elfPath: guest.vmlinux)
        let tasks = try s.linuxTasks()
        let threads = tasks.filter { $0.command == "threads" }
        #expect(threads.count == 4, "\(threads)")
        let leader = try #require(threads.min { $0.pid < $1.pid })
        #expect(threads.allSatisfy { $0.tgid == leader.pid && $0.ppid == 1 && $0.state == "IN" && !$0.kernelThread }, "\(threads)")
        #expect(tasks.filter { $0.command == "sleep" && $0.ppid == 1 }.count == 2)
        #expect(tasks.filter { $0.tgid != $0.pid }.count == 3, "only the workers are non-leader threads")

        let xs = PanickerGuest.packageRoot + "/.build/debug/xenscope"
        #expect(FileManager.default.isExecutableFile(atPath: xs), "build xenscope first (swift build --build-tests)")
        let text = try PanickerGuest.run(xs, ["crash", "ps", guest.kdumpDump, "--elf", guest.vmlinux], what: "xenscope crash ps")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == tasks.count + 1)
        #expect(lines.filter { $0.hasSuffix("  IN  threads") }.count == 4)
        let worker = try #require(threads.first { $0.pid != leader.pid })
        let bt = try PanickerGuest.run(xs, ["crash", "bt", "--pid", String(worker.pid), guest.kdumpDump, "--elf", guest.vmlinux, "--json"],
                                       what: "xenscope crash bt --pid \(worker.pid)")
        let decoded = try JSONDecoder().decode([CPUBacktrace].self, from: Data(bt.utf8))
        #expect(decoded == [try s.taskBacktrace(worker)])
        #expect(decoded.first?.exceptionFrames.last?.userMode == true)
        #expect(decoded.first?.frames.contains { $0.function == "schedule" } == true)

        // crash mod on the kdump: 6.4+ regions, the same as on the ELF dump.
        let mods = try s.linuxModules()
        let elfMods = try CrashSession(dumpPath: guest.elfDump, elfPath: guest.vmlinux).linuxModules()
        #expect(mods == elfMods)
        let m = try #require(mods.first { $0.name == "qemu_fw_cfg" })
        #expect(m.regions.map(\.kind).prefix(1) == ["text"] && m.regions.allSatisfy { $0.kind != "core" }, "\(m.regions)")
        let json = try PanickerGuest.run(xs, ["crash", "mod", guest.kdumpDump, "--elf", guest.vmlinux, "--json"], what: "xenscope crash mod --json")
        #expect(try JSONDecoder().decode([LinuxModule].self, from: Data(json.utf8)) == mods)
    }
}

import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import Testing

/// `crash ps` and the backtraces of every task (sleeping ones from the
/// context their last switch saved) on both Linux test guests, against drgn
/// on the same dump: the same threads with the same PID, parent, CPU,
/// task_struct, state and command, and the same kernel frames (function and
/// pc, inline frames included). Which tasks sleep where changes from boot
/// to boot; only agreement with drgn and invariants are checked.
@Suite(.serialized) struct LinuxTaskTests {
    /// drgn's state letter → crash's code.
    static let stateCodes = ["R": "RU", "S": "IN", "D": "UN", "T": "ST", "t": "TR", "X": "DE", "Z": "ZO", "P": "PA", "I": "ID"]

    @Test(arguments: ["x86-64", "arm64", "x86-64-trixie"])
    func psAndEveryTasksBacktraceEqualDrgn(_ arch: String) throws {
        let (dump, vmlinux) = try linuxGuestELFDump(arch)
        let s = try CrashSession(dumpPath: dump, elfPath: vmlinux)
        let ours = try s.linuxTasks()
        let theirs = try DrgnTask.all(dump: dump, vmlinux: vmlinux)
        #expect(theirs.count >= 40, "drgn listed \(theirs.count) threads")
        // drgn's threads() leaves out the idle tasks; crash's ps lists one per CPU.
        let idle = ours.filter { $0.pid == 0 }
        #expect(idle.count == s.dump.cpus.count && Set(idle.map(\.cpu)) == Set(s.dump.cpus.indices), "\(idle)")
        #expect(idle.allSatisfy { $0.command.hasPrefix("swapper/") && $0.kernelThread })
        let rest = ours.filter { $0.pid != 0 }
        #expect(rest.map(\.pid) == theirs.map(\.pid).sorted())
        let byAddress = Dictionary(rest.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        for t in theirs {
            let o = try #require(byAddress[t.address], "drgn's task \(t.pid) at 0x\(String(t.address, radix: 16)) missing")
            #expect(o.pid == t.pid && o.ppid == t.ppid && o.cpu == t.cpu && o.command == t.command, "\(o) vs drgn \(t)")
            #expect(o.state == Self.stateCodes[t.state], "PID \(t.pid): \(o.state) vs drgn \(t.state)")
        }
        // One running task per CPU; the panicking CPU's is the task in panic.
        let active = ours.filter(\.active)
        #expect(active.count == s.dump.cpus.count && Set(active.map(\.cpu)).count == s.dump.cpus.count, "\(active)")
        let panicCPU = try #require(s.panicInfo(log: try s.consoleLog()).cpu)
        let crashed = try #require(active.first { $0.cpu == panicCPU })
        #expect(crashed.command == "sh" && crashed.state == "RU")

        // Every task's backtrace: drgn's kernel frames (it goes on into user
        // space from the entry frame's registers; we stop there).
        let bts = try s.taskBacktraces(rest)
        var sleeping = 0
        for (o, bt) in zip(rest, bts) {
            let t = try #require(theirs.first { $0.address == o.address })
            var kernel = Array(t.frames.prefix { $0.pc >> 63 == 1 })
            var mine = bt.frames
            // A running x86-64 task interrupted in the kernel: drgn has no
            // CFI for the entry code and does not read its pt_regs, so the
            // stacks are compared up to the interrupt (whether a CPU was
            // caught in one varies from boot to boot).
            let boundary = (bt.exceptionFrames.filter { !$0.userMode }.map(\.afterFrame) + bt.stackSwitches.map(\.afterFrame)).min()
            if o.active, let b = boundary {
                mine = Array(mine.prefix(b + 1))
                kernel = Array(kernel.prefix(b + 1))
            }
            #expect(mine.map { $0.function ?? "??" } == kernel.map(\.function), "PID \(o.pid) \(o.command): xenscope \(mine.map { $0.function ?? "??" }) vs drgn \(kernel.map(\.function))")
            #expect(mine.map(\.pc) == kernel.map(\.pc), "PID \(o.pid) \(o.command)")
            #expect(bt.task?.pid == o.pid)
            if !o.active {
                sleeping += 1
                // A switched-out task stopped in the scheduler (or, never
                // run yet, starts at ret_from_fork).
                #expect(bt.frames.prefix(4).contains { $0.function == "__schedule" } || bt.frames.first?.function?.hasPrefix("ret_from_fork") == true,
                        "PID \(o.pid): \(bt.frames.prefix(4).map { $0.function ?? "??" })")
                #expect(bt.stopReason.hasPrefix("end of stack"), "PID \(o.pid): \(bt.stopReason)")
            }
        }
        #expect(sleeping == rest.count - active.filter { $0.pid != 0 }.count)
    }
}

/// The command line: `crash ps` (text and `--json`) and `crash bt --pid`
/// on the x86-64 guest's kdump, against the library on the same dump.
@Suite struct LinuxTaskCommandLineTests {
    @Test func psAndBacktraceByPID() throws {
        let xs = xenscopeDebugBinary()
        let g = try LinuxGuest.shared()
        let s = try CrashSession(dumpPath: g.kdumpDump, elfPath: g.vmlinux)
        let tasks = try s.linuxTasks()
        let text = try PanickerGuest.run(xs, ["crash", "ps", g.kdumpDump, "--elf", g.vmlinux], what: "xenscope crash ps")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "   PID    PPID  CPU       TASK        ST  COMM")
        #expect(lines.count == tasks.count + 1)
        let sh = try #require(tasks.first { $0.active && $0.command == "sh" })
        let shLine = ">" + String(repeating: " ", count: 6 - String(sh.pid).count) + "\(sh.pid)       1    \(sh.cpu)  "
            + String(sh.address, radix: 16) + "  RU  sh"
        #expect(lines.contains(shLine), "\(shLine) in \(lines.filter { $0.hasSuffix(" sh") })")
        #expect(lines.contains { $0.hasPrefix("      2       0 ") && $0.hasSuffix("  IN  [kthreadd]") })

        let json = try PanickerGuest.run(xs, ["crash", "ps", g.kdumpDump, "--elf", g.vmlinux, "--json"], what: "xenscope crash ps --json")
        #expect(try JSONDecoder().decode([LinuxTaskEntry].self, from: Data(json.utf8)) == tasks)

        // PID 1 (init) sleeps in wait4: its stack from the saved context.
        let initTask = try #require(tasks.first { $0.pid == 1 })
        #expect(!initTask.active)
        let bt = try PanickerGuest.run(xs, ["crash", "bt", "--pid", "1", g.kdumpDump, "--elf", g.vmlinux, "--json"], what: "xenscope crash bt --pid 1")
        let decoded = try JSONDecoder().decode([CPUBacktrace].self, from: Data(bt.utf8))
        #expect(decoded == [try s.taskBacktrace(initTask)])
        #expect(decoded.first?.exceptionFrames.last?.userMode == true)
        let missing = runTool([xs, "crash", "bt", "--pid", "99999", g.kdumpDump, "--elf", g.vmlinux])
        #expect(missing.status != 0 && missing.output.contains("no task with PID 99999"), "\(missing)")
    }
}

/// The Linux test guest's ELF dump and vmlinux for `arch`: "x86-64" and
/// "arm64" (Debian 12, Linux 6.1) or "x86-64-trixie" (Debian 13, Linux 6.12).
func linuxGuestELFDump(_ arch: String) throws -> (dump: String, vmlinux: String) {
    switch arch {
    case "x86-64": return (try LinuxGuest.shared().elfDump, try LinuxGuest.shared().vmlinux)
    case "x86-64-trixie": return (try LinuxTrixieGuest.shared().elfDump, try LinuxTrixieGuest.shared().vmlinux)
    default: return (try LinuxArm64Guest.shared().elfDump, try LinuxArm64Guest.shared().vmlinux)
    }
}

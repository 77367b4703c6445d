import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import Testing

/// `xenscope crash` on Debian's arm64 kernel (6.1, KASLR on, ET_DYN vmlinux
/// from its -dbg package) crashed with sysrq-c on CPU 1 under
/// qemu-system-aarch64: the crashed CPU, the panic message from the printk
/// ring, and the backtrace from panic down to the user-mode entry
/// (el0t_64_sync) and nothing after, checked against the call trace the
/// kernel printed itself on the serial console.
@Suite struct LinuxArm64CrashTests {
    @Test(arguments: ["elf", "kdump"])
    func crashedCPUAndBacktrace(_ kind: String) throws {
        let g = try LinuxArm64Guest.shared()
        let s = try CrashSession(dumpPath: kind == "elf" ? g.elfDump : g.kdumpDump, elfPath: g.vmlinux)
        #expect(s.dump.architecture == .aarch64)
        #expect(s.dump.cpus.count == 2)
        let log = try s.consoleLog()   // Linux: the printk ring
        let panic = s.panicInfo(log: log)
        #expect(panic.message == "Kernel panic - not syncing: sysrq triggered crash")
        #expect(panic.cpu == 1 && panic.cpuSource == "panic_cpu variable")
        let bt = try s.backtraces()[1]
        let functions = bt.frames.filter { !$0.inlined }.compactMap(\.function)
        // From panic to the user-mode entry, as the kernel printed it (its
        // trace shows sysrq_handle_crash as the symbol before it, sysrq_reset_seq_param_set+0x0:
        // panic() does not return, so the return address is one past the function).
        let kernel = try g.serialCallTrace()
        #expect(kernel.first == "panic" && kernel.last == "el0t_64_sync", "\(kernel)")
        let start = try #require(functions.firstIndex(of: "panic"), "\(functions)")
        let ours = Array(functions[start...])
        #expect(ours.last == "el0t_64_sync", "nothing after the user-mode entry: \(ours)")
        #expect(ours.count == kernel.count, "xenscope \(ours) vs the kernel's \(kernel)")
        for (o, k) in zip(ours, kernel) where k != "sysrq_reset_seq_param_set" {
            #expect(o == k || k.hasPrefix(o + "."), "xenscope \(o) vs the kernel's \(k)")
        }
        #expect(ours.contains("sysrq_handle_crash") && ours.contains("write_sysrq_trigger") && ours.contains("__arm64_sys_write"))
        // CPU 0 was parked by the panic's IPI, in its idle loop.
        let cpu0 = try s.backtraces()[0].frames.compactMap(\.function)
        #expect(cpu0.prefix(2) == ["cpu_park_loop", "local_cpu_stop"], "\(cpu0)")
        #expect(cpu0.last == "__primary_switched")
    }

    /// drgn (PyPI build, on this x86-64 host) reads the arm64 ELF dump: its
    /// crashed thread's stack, inline frames included, equals ours frame by
    /// frame. (On QEMU's flattened kdump libkdumpfile finds no architecture:
    /// its `machine` field says "Unknown".)
    @Test func backtraceEqualsDrgn() throws {
        let g = try LinuxArm64Guest.shared()
        let s = try CrashSession(dumpPath: g.elfDump, elfPath: g.vmlinux)
        let ours = try s.backtraces()[1].frames.map { ($0.function ?? "??", $0.pc) }
        let theirs = try g.drgnCrashedStack(g.elfDump)
        #expect(theirs.count >= 15, "\(theirs)")
        #expect(ours.map(\.0) == theirs.map(\.function), "xenscope \(ours.map(\.0)) vs drgn \(theirs.map(\.function))")
        #expect(ours.map(\.1) == theirs.map(\.pc))
    }
}

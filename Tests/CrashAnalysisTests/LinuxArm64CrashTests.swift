@testable import CrashAnalysis
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

    /// The innermost function may have no frame record of its own yet (a
    /// leaf such as a timer handler the dump caught the CPU in, or any
    /// function at its first instruction): its caller is then x30, not the
    /// record x29 points to (that one names the caller's caller). Checked on
    /// the real dump's memory and code: CPU 1's registers as they would be
    /// one `bl` into `arch_timer_handler_virt` (pc at its entry, x30 the
    /// return address, x29 and sp unchanged), and CPU 0, parked in
    /// local_cpu_stop, which has saved its own record.
    @Test func leafFrameZeroCallerComesFromTheLinkRegister() throws {
        let g = try LinuxArm64Guest.shared()
        let s = try CrashSession(dumpPath: g.elfDump, elfPath: g.vmlinux)
        let symbols = try #require(s.symbols)
        let entry = try #require(symbols.address(ofSymbol: "arch_timer_handler_virt"))
        let real = try s.backtraces()[1]
        var regs = try #require(s.dump.cpus[1].aarch64)
        regs.x[30] = regs.pc &+ 4       // as if the instruction at pc were the `bl`
        regs.pc = entry
        let mem = try #require(PageWalker(dump: s.dump, cpu: s.dump.cpus[1]).map(VirtualMemory.init) ?? s.memory)
        #expect(s.aarch64FrameZeroCaller(regs: regs, memory: mem, symbols: symbols) == regs.lr)
        let parked = try #require(s.dump.cpus[0].aarch64)
        let mem0 = try #require(PageWalker(dump: s.dump, cpu: s.dump.cpus[0]).map(VirtualMemory.init) ?? s.memory)
        #expect(s.aarch64FrameZeroCaller(regs: parked, memory: mem0, symbols: symbols) == nil)
        #expect(real.frames.first?.pc == s.dump.cpus[1].aarch64?.pc)
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

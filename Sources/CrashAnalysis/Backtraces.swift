import DWARF
import Dump

/// One frame of a symbolized backtrace, numbered as gdb numbers them: an
/// inlined call gets its own frame, at the same pc as its caller.
public struct BacktraceFrame: Sendable, Equatable, Codable {
    public var index: Int
    public var pc: UInt64
    public var function: String?
    /// Line of the pc (innermost) or of the call into the inner frame.
    public var location: SourceLocation?
    /// True when this function was inlined into the next frame.
    public var inlined: Bool
    /// How the unwinder found this physical frame: initial (the saved
    /// registers), cfi, frame-pointer or stack-scan (a guess, not proven).
    public var method: String
    /// The ELF symbol and offset of the pc (`panic+0x118`), as the kernel's
    /// own traces name frames (`.cold` parts keep their suffix).
    public var symbol: String? = nil
}

/// The backtrace of one CPU.
public struct CPUBacktrace: Sendable, Equatable, Codable {
    public var cpu: Int
    public var frames: [BacktraceFrame]
    /// Why unwinding stopped ("end of stack" when the CFI says so).
    public var stopReason: String
    /// Linux: the task running on this CPU.
    public var task: LinuxTask? = nil
    /// Linux: register frames saved by entry code (syscall, interrupt), in
    /// stack order; a user-mode one ends the kernel stack.
    public var exceptionFrames: [ExceptionFrame] = []
    /// Linux: where the stack changes (IRQ stack back to the interrupted
    /// stack), after the frame with this index.
    public var stackSwitches: [StackSwitch] = []
}

/// A change of stack inside one backtrace (Linux runs interrupts on a per-CPU IRQ stack).
public struct StackSwitch: Sendable, Equatable, Codable {
    public var afterFrame: Int
    /// "IRQ stack": the frames up to `afterFrame` ran on it.
    public var stack: String
    public init(afterFrame: Int, stack: String) { self.afterFrame = afterFrame; self.stack = stack }
}

/// Reads guest memory for the unwinder's callback. The unwinder calls it
/// synchronously inside `unwind`, on the caller's thread, so handing the
/// non-Sendable page walker across is safe.
final class UnwindMemory: @unchecked Sendable {
    let memory: VirtualMemory
    init(_ m: VirtualMemory) { memory = m }
    func word(_ a: UInt64) -> UInt64? { try? memory.readWord(a) }
}

extension CrashSession {
    /// Unwinds every CPU's stack from its saved registers through its own
    /// page tables (DWARF CFI, then frame pointers, then a stack scan) and
    /// symbolizes each frame with its inline chain. `scanWords` > 0 adds
    /// stack-scan guesses where CFI and frame pointers end early (Xen release
    /// builds have neither); they are labelled as guesses.
    public func backtraces(unwinder: Unwinder? = nil, maxFrames: Int = 64, scanWords: Int = 0) throws -> [CPUBacktrace] {
        guard let symbols else { throw CrashError.noSymbols(what: "a backtrace") }
        if dump.architecture == .aarch64 { return aarch64Backtraces(symbols: symbols, maxFrames: maxFrames) }
        let u = try unwinder ?? Unwinder(images: [.init(path: symbols.path, bias: symbols.bias)])
        let machineFrames = (dump as? XenCoreDump)?.isPV ?? false
        let linux = linuxKernel != nil
        let tasks = linux ? linuxCurrentTasks() : [:]
        return dump.cpus.map { cpu in
            guard let w = PageWalker(dump: dump, cpu: cpu, machineFrames: machineFrames) ?? memory?.walker else {
                return CPUBacktrace(cpu: cpu.index, frames: [], stopReason: "no page tables for this CPU (CR3 unknown or paging off)")
            }
            let vm = VirtualMemory(walker: w)
            // Top of this CPU's IRQ stack: call_on_stack() saves the
            // interrupted stack pointer there before switching.
            let irqTop = linux ? (try? perCPUAddress("hardirq_stack_ptr", cpu: cpu.index)).flatMap { try? vm.readWord($0) } : nil
            var bt = x86Unwind(registers: cpu.dwarfRegisters, activation: true, memory: vm, unwinder: u, symbols: symbols,
                               irqTop: irqTop, maxFrames: maxFrames, scanWords: scanWords)
            bt.cpu = cpu.index
            bt.task = tasks[cpu.index]
            return bt
        }
    }

    /// Unwinds one x86-64 context (DWARF numbering 0…16) through `vm`:
    /// CFI, then Linux's entry code by the pt_regs it saved, the IRQ stack
    /// back to the interrupted one, the start-up code as the end.
    /// `activation` false: the pc is a return address (a blocked task's
    /// saved one), looked up one byte back.
    func x86Unwind(registers: [UInt64], activation first: Bool, memory vm: VirtualMemory, unwinder u: Unwinder, symbols: Symbolizer,
                   irqTop: UInt64?, maxFrames: Int, scanWords: Int) -> CPUBacktrace {
        let linux = linuxKernel != nil
        let mem = UnwindMemory(vm)
        var frames = [BacktraceFrame]()
        var exceptions = [ExceptionFrame]()
        var regs = registers
        var reason = ""
        var switches = [StackSwitch]()
        var activation = first
        // Linux entry code has no CFI: where a stack reaches it, the
        // pt_regs it saved are read and unwinding goes on from them (a
        // kernel-mode interrupt) or ends (user mode), as the kernel's own
        // ORC unwinder does.
        for _ in 0..<8 {
            var bt = u.unwind(registers: regs, maxFrames: max(1, maxFrames - frames.count), scanWords: scanWords, activation: activation) { mem.word($0) }
            activation = true
            // A frame whose stack pointer is the IRQ stack's top called
            // into the IRQ stack: its own caller is found from the saved
            // stack pointer, so unwinding restarts there.
            var switchedFrom: UnwoundFrame? = nil
            if let top = irqTop, let k = bt.frames.firstIndex(where: { $0.registers[7] == top && $0.pc != 0 }), k > 0,
               let saved = try? vm.readWord(top) {
                switchedFrom = bt.frames[k]
                switchedFrom!.registers[7] = saved
                bt.frames.removeSubrange(k...)
            }
            reason = bt.stopReason
            var lastSymbol: String? = nil
            for f in bt.frames {
                let s = symbols.symbolize(f.lookupAddress)
                var sym = s.symbol.map { n in "\(n)+0x\(String(s.symbolOffset &+ (f.lookupAddress == f.pc ? 0 : 1), radix: 16))" }
                lastSymbol = s.symbol
                var chain = s.frames.isEmpty ? [SymbolFrame(function: s.symbol, location: nil, inlined: false, dieOffset: nil)] : s.frames
                if s.symbol == nil || !s.inImage, let m = moduleFrameName(f.lookupAddress, pc: f.pc) {
                    sym = m.symbol
                    chain = [SymbolFrame(function: m.function, location: nil, inlined: false, dieOffset: nil)]
                }
                for sf in chain {
                    frames.append(BacktraceFrame(index: frames.count, pc: f.pc, function: sf.function, location: sf.location,
                                                 inlined: sf.inlined, method: f.method.rawValue, symbol: sym))
                }
            }
            if let from = switchedFrom {
                switches.append(StackSwitch(afterFrame: frames.count - 1, stack: "IRQ stack"))
                regs = from.registers.map { $0 ?? 0 }
                activation = from.isActivation
                continue
            }
            if linux, let s = lastSymbol, s.hasPrefix("secondary_startup_64") || s == "start_cpu0" {
                reason = Unwinder.endOfStack + " (CPU start-up code)"
                break
            }
            guard linux, reason != Unwinder.endOfStack, frames.count < maxFrames, let last = bt.frames.last,
                  Self.isLinuxEntryCode(lastSymbol), let sp = last.registers[7], let pt = ptRegs(at: sp, memory: vm) else {
                // A kernel thread's stack starts at ret_from_fork (6.6+: ret_from_fork_asm; its pt_regs are empty).
                if linux, lastSymbol == "ret_from_fork" || lastSymbol == "ret_from_fork_asm", reason != Unwinder.endOfStack { reason = Unwinder.endOfStack + " (kernel thread start)" }
                break
            }
            let user = pt["cs"]! & 3 == 3
            exceptions.append(ExceptionFrame(afterFrame: frames.count - 1, address: sp, userMode: user, registers: pt))
            if user { reason = Unwinder.endOfStack + " (user-mode registers)"; break }
            regs = ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip"].map { pt[$0]! }
        }
        return CPUBacktrace(cpu: -1, frames: frames, stopReason: reason, exceptionFrames: exceptions, stackSwitches: switches)
    }

    /// The CPU whose backtrace passes through `panic` (or Xen's `panic`, or
    /// Xen's `hwdom_shutdown` for a crashed dom0), for dumps without a
    /// `panic_cpu` variable.
    public static func cpuInPanic(_ bts: [CPUBacktrace]) -> Int? {
        bts.first { $0.frames.contains { $0.function == "panic" } }?.cpu
            ?? bts.first { $0.frames.contains { $0.function == "hwdom_shutdown" } }?.cpu
    }
}

/// gdb-like text: `#1  0xffffffff8010a8a3 in panic () at kernel.c:289`.
public func formatBacktrace(_ bt: CPUBacktrace) -> String {
    var lines = [String]()
    if let t = bt.task {
        let pid = String(t.pid)
        lines.append("PID: " + pid + String(repeating: " ", count: max(1, 9 - pid.count)) + "TASK: " + String(t.address, radix: 16)
                     + "  CPU: \(t.cpu)    COMMAND: \"\(t.command)\"")
    }
    for f in bt.frames {
        var s = "#\(f.index)"
        s += String(repeating: " ", count: max(1, 4 - s.count))
        s += "0x" + String(f.pc, radix: 16) + " in " + (f.function ?? "??") + " ()"
        if let l = f.location { s += " at " + l.file + ":" + String(l.line) }
        if f.inlined { s += " [inlined]" }
        // The ELF symbol where DWARF names the function differently (a
        // `.cold` part, an entry-code label): the name the kernel's traces use.
        else if let sym = f.symbol, let name = sym.split(separator: "+").first, name != (f.function ?? "") { s += " <\(sym)>" }
        if f.method == "stack-scan" { s += " [stack scan: a guess]" } else if f.method == "frame-pointer" { s += " [frame pointer]" }
        lines.append(s)
        for sw in bt.stackSwitches where sw.afterFrame == f.index { lines.append("    --- <\(sw.stack)> ---") }
        for e in bt.exceptionFrames where e.afterFrame == f.index {
            lines.append(formatExceptionFrame(e))
        }
    }
    if !bt.stopReason.hasPrefix("end of stack") { lines.append("    (unwinding stopped: \(bt.stopReason))") }
    return lines.joined(separator: "\n")
}

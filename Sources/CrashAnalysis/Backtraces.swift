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
}

/// The backtrace of one CPU.
public struct CPUBacktrace: Sendable, Equatable, Codable {
    public var cpu: Int
    public var frames: [BacktraceFrame]
    /// Why unwinding stopped ("end of stack" when the CFI says so).
    public var stopReason: String
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
        let u = try unwinder ?? Unwinder(images: [.init(path: symbols.path)])
        let machineFrames = (dump as? XenCoreDump)?.isPV ?? false
        return dump.cpus.map { cpu in
            guard let w = PageWalker(dump: dump, cpu: cpu, machineFrames: machineFrames) ?? memory?.walker else {
                return CPUBacktrace(cpu: cpu.index, frames: [], stopReason: "no page tables for this CPU (CR3 unknown or paging off)")
            }
            let mem = UnwindMemory(VirtualMemory(walker: w))
            let bt = u.unwind(registers: cpu.dwarfRegisters, maxFrames: maxFrames, scanWords: scanWords) { mem.word($0) }
            var frames = [BacktraceFrame]()
            for f in bt.frames {
                let s = symbols.symbolize(f.lookupAddress)
                let chain = s.frames.isEmpty ? [SymbolFrame(function: s.symbol, location: nil, inlined: false, dieOffset: nil)] : s.frames
                for sf in chain {
                    frames.append(BacktraceFrame(index: frames.count, pc: f.pc, function: sf.function, location: sf.location,
                                                 inlined: sf.inlined, method: f.method.rawValue))
                }
            }
            return CPUBacktrace(cpu: cpu.index, frames: frames, stopReason: bt.stopReason)
        }
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
    for f in bt.frames {
        var s = "#\(f.index)"
        s += String(repeating: " ", count: max(1, 4 - s.count))
        s += "0x" + String(f.pc, radix: 16) + " in " + (f.function ?? "??") + " ()"
        if let l = f.location { s += " at " + l.file + ":" + String(l.line) }
        if f.inlined { s += " [inlined]" }
        if f.method == "stack-scan" { s += " [stack scan: a guess]" } else if f.method == "frame-pointer" { s += " [frame pointer]" }
        lines.append(s)
    }
    if bt.stopReason != "end of stack" { lines.append("    (unwinding stopped: \(bt.stopReason))") }
    return lines.joined(separator: "\n")
}

import CElfUtils
import ELF
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How a frame's registers were recovered.
public enum UnwindMethod: String, Sendable, Codable {
    /// The registers the caller gave (frame 0).
    case initial
    /// DWARF call frame information (`.eh_frame` or `.debug_frame`).
    case cfi
    /// The saved-RBP chain (`[rbp]` = caller's rbp, `[rbp+8]` = return address).
    case framePointer = "frame-pointer"
    /// A stack word that points into known text, as Xen prints without frame
    /// pointers: a candidate return address, not a proven frame.
    case stackScan = "stack-scan"
}

/// One physical stack frame.
public struct UnwoundFrame: Sendable, Equatable, Codable {
    /// Program counter: exact for frame 0 and frames interrupted by a signal,
    /// otherwise the return address (look up `pc - 1` for the call's line).
    public var pc: UInt64
    /// True when `pc` is exact (frame 0, or the frame a signal interrupted).
    public var isActivation: Bool
    /// True when this frame is a signal trampoline (its caller was interrupted).
    public var isSignalFrame: Bool
    /// Canonical frame address: the stack pointer just before the call into
    /// this frame (= the caller's rsp), when known.
    public var cfa: UInt64?
    /// Registers in x86-64 DWARF numbering 0…16 (16 = return address/rip);
    /// nil where the unwinder could not recover the value.
    public var registers: [UInt64?]
    public var method: UnwindMethod

    /// The address to symbolize: `pc` for activations, `pc - 1` for return addresses.
    public var lookupAddress: UInt64 { isActivation || pc == 0 ? pc : pc - 1 }
}

/// The result of one unwind.
public struct Backtrace: Sendable, Equatable, Codable {
    public var frames: [UnwoundFrame]
    /// Why unwinding stopped, in words ("end of stack", "frame limit", an elfutils error, …).
    public var stopReason: String
}

/// Unwinds x86-64 stacks over images loaded at known addresses: libdwfl's
/// CFI unwinder first (`.eh_frame`/`.debug_frame`, with elfutils' own
/// frame-pointer step where CFI is missing), then our frame-pointer walk, then
/// a bounded scan of the stack for words pointing into executable text.
///
/// Memory comes from a callback, so the same unwinder serves core files,
/// hypervisor dumps and live targets. Thread-safe (one libdwfl session under a lock).
public final class Unwinder: Sendable {
    /// One image in the target's address space.
    public struct Image: Sendable {
        public var path: String
        /// Load bias (run-time minus link-time address; 0 for non-PIE executables).
        public var bias: UInt64
        public var debugDirectories: [String]
        public init(path: String, bias: UInt64 = 0, debugDirectories: [String] = []) {
            self.path = path
            self.bias = bias
            self.debugDirectories = debugDirectories
        }
    }

    /// Run-time executable ranges of all images (where return addresses may point).
    public let textRanges: [Range<UInt64>]
    private let state: Mutex<UnwindSession>

    public init(images: [Image]) throws {
        var dw: [DwflSession.Image] = []
        var text: [Range<UInt64>] = []
        var execBiases: [UInt64] = []
        for i in images {
            let elf = try ELFFile(path: i.path)
            let debug = DebugFileLocator(directories: i.debugDirectories).locate(for: elf, path: i.path).debugFile
            // libdwfl places ET_EXEC at its link address whatever base we give.
            dw.append(.init(path: i.path, base: elf.header.type == ELFHeader.typeShared ? i.bias : 0, debugFile: debug))
            execBiases.append(elf.header.type == ELFHeader.typeShared ? 0 : i.bias)
            for p in elf.programHeaders where p.type == ProgramHeader.typeLoad && p.flags & ProgramHeader.flagExecute != 0 && p.memorySize > 0 {
                text.append((p.virtualAddress &+ i.bias)..<(p.virtualAddress &+ i.bias &+ p.memorySize))
            }
        }
        textRanges = text.sorted { $0.lowerBound < $1.lowerBound }
        state = Mutex(try UnwindSession(session: try DwflSession(images: dw), execBiases: execBiases))
    }

    /// True when `address` lies in an image's executable segment.
    public func isText(_ address: UInt64) -> Bool {
        textRanges.contains { $0.contains(address) }
    }

    /// Unwinds from `registers` (x86-64 DWARF numbering 0…16, see
    /// `X86_64Registers.dwarfRegisters`), reading 8-byte words with `readWord`
    /// (nil = not readable). Stops at the end of the stack, at `maxFrames`, on
    /// a loop (the stack pointer must grow), or when nothing more is found.
    /// `activation` false: `registers` are a caller's state at a return
    /// address (e.g. after a stack switch), not an interrupted pc (only
    /// honoured for images loaded away from their link address).
    public func unwind(registers: [UInt64], maxFrames: Int = 256, scanWords: Int = 1024, activation: Bool = true,
                       readWord: @escaping @Sendable (UInt64) -> UInt64?) -> Backtrace {
        precondition(registers.count >= 17, "need the 17 x86-64 DWARF registers")
        var bt = state.withLock { s in
            s.stepper != nil ? s.biasedUnwind(registers: registers, maxFrames: maxFrames, activation: activation, readWord: readWord)
                : s.cfiUnwind(registers: registers, maxFrames: maxFrames, readWord: readWord)
        }
        guard bt.frames.count < maxFrames, bt.stopReason != Self.endOfStack else { return bt }
        // Frame pointers, then a stack scan, from the last frame we trust.
        var last = bt.frames.last!
        while bt.frames.count < maxFrames, let rbp = last.registers[6], let rsp = last.registers[7],
              rbp >= rsp, rbp &- rsp < 1 << 20, rbp & 7 == 0,
              let savedRBP = readWord(rbp), let ret = readWord(rbp &+ 8), isText(ret) {
            var regs = [UInt64?](repeating: nil, count: 17)
            regs[6] = savedRBP
            regs[7] = rbp &+ 16
            regs[16] = ret
            let f = UnwoundFrame(pc: ret, isActivation: false, isSignalFrame: false, cfa: rbp &+ 16, registers: regs, method: .framePointer)
            bt.frames.append(f)
            bt.stopReason = "frame-pointer chain ended"
            if savedRBP <= rbp { bt.stopReason = "frame-pointer chain loops"; return bt }
            last = f
        }
        guard var sp = last.registers[7] else { return bt }
        var scanned = 0
        while scanned < scanWords && bt.frames.count < maxFrames {
            guard let w = readWord(sp) else { break }
            if isText(w) {
                var regs = [UInt64?](repeating: nil, count: 17)
                regs[7] = sp &+ 8
                regs[16] = w
                bt.frames.append(UnwoundFrame(pc: w, isActivation: false, isSignalFrame: false, cfa: sp &+ 8, registers: regs, method: .stackScan))
            }
            sp &+= 8
            scanned += 1
        }
        bt.stopReason += "; stack scanned (\(scanned) words)"
        return bt
    }

    /// Why ``unwind`` stopped when CFI reached the outermost frame.
    public static let endOfStack = "end of stack"
}

/// State shared with libdwfl's C callbacks for one unwind.
final class UnwindContext {
    var registers: [UInt64] = []
    var readWord: (@Sendable (UInt64) -> UInt64?)?
    var frames: [UnwoundFrame] = []
    var maxFrames = 256
    var stoppedBy: String?
    let tid: Int32 = 1
    var handedOut = false
}

/// libdwfl session with our thread callbacks attached (once per Dwfl).
final class UnwindSession {
    let session: DwflSession
    let context = UnwindContext()
    let threadCallbacks: UnsafeMutablePointer<Dwfl_Thread_Callbacks>

    /// Our own CFI stepper, when an executable is loaded away from its link
    /// address (KASLR): libdwfl's unwinder cannot place ET_EXEC elsewhere.
    let stepper: BiasedCFIStepper?

    init(session: DwflSession, execBiases: [UInt64] = []) throws {
        self.session = session
        if execBiases.contains(where: { $0 != 0 }) {
            var tables: [BiasedCFIStepper.Table] = []
            for (i, mod) in session.modules.enumerated() {
                let run = i < execBiases.count ? execBiases[i] : 0
                let (start, end) = session.bounds(i)
                for get in [dwfl_module_dwarf_cfi, dwfl_module_eh_cfi] {
                    var b: Dwarf_Addr = 0
                    if let cfi = get(mod, &b) {
                        tables.append(.init(cfi: cfi, tableBias: b, runBias: run, range: (start &+ run)..<(end &+ run)))
                    }
                }
            }
            stepper = BiasedCFIStepper(tables: tables)
        } else {
            stepper = nil
        }
        threadCallbacks = .allocate(capacity: 1)
        threadCallbacks.initialize(to: Dwfl_Thread_Callbacks(
            next_thread: { _, arg, threadArg in
                let ctx = Unmanaged<UnwindContext>.fromOpaque(arg!).takeUnretainedValue()
                if ctx.handedOut { return 0 }
                ctx.handedOut = true
                threadArg?.pointee = arg
                return ctx.tid
            },
            get_thread: { _, tid, arg, threadArg in
                let ctx = Unmanaged<UnwindContext>.fromOpaque(arg!).takeUnretainedValue()
                threadArg?.pointee = arg
                return tid == ctx.tid
            },
            memory_read: { _, address, result, arg in
                let ctx = Unmanaged<UnwindContext>.fromOpaque(arg!).takeUnretainedValue()
                guard let v = ctx.readWord?(address) else { return false }
                result!.pointee = v
                return true
            },
            set_initial_registers: { thread, threadArg in
                let ctx = Unmanaged<UnwindContext>.fromOpaque(threadArg!).takeUnretainedValue()
                var regs = ctx.registers.prefix(17).map { Dwarf_Word($0) }
                return dwfl_thread_state_registers(thread!, 0, 17, &regs)
            },
            detach: nil,
            thread_detach: nil))
        guard dwfl_attach_state(session.dwfl, nil, 1, threadCallbacks, Unmanaged.passUnretained(context).toOpaque()) else {
            let m = dwflError()
            threadCallbacks.deallocate()
            throw SymbolizerError.libdw("unwinder", m)
        }
    }

    deinit { threadCallbacks.deallocate() }

    func cfiUnwind(registers: [UInt64], maxFrames: Int, readWord: @escaping @Sendable (UInt64) -> UInt64?) -> Backtrace {
        context.registers = registers
        context.readWord = readWord
        context.frames = []
        context.maxFrames = maxFrames
        context.stoppedBy = nil
        context.handedOut = false
        let rc = dwfl_getthread_frames(session.dwfl, context.tid, { state, arg in
            let ctx = Unmanaged<UnwindContext>.fromOpaque(arg!).takeUnretainedValue()
            var pc: Dwarf_Addr = 0
            var activation = false
            guard dwfl_frame_pc(state!, &pc, &activation) else { ctx.stoppedBy = dwflError(); return Int32(DWARF_CB_ABORT) }
            if pc == 0 && !ctx.frames.isEmpty {
                ctx.stoppedBy = Unwinder.endOfStack
                return Int32(DWARF_CB_ABORT)
            }
            var regs = [UInt64?](repeating: nil, count: 17)
            for r in 0..<16 {
                var v: Dwarf_Word = 0
                if dwfl_frame_reg(state!, UInt32(r), &v) == 0 { regs[r] = v }
            }
            regs[16] = pc
            if let prev = ctx.frames.last, let sp = regs[7], let prevSP = prev.registers[7], sp <= prevSP {
                ctx.stoppedBy = "stack pointer does not grow (0x\(String(sp, radix: 16)) after 0x\(String(prevSP, radix: 16))): loop or garbage"
                return Int32(DWARF_CB_ABORT)
            }
            ctx.frames.append(UnwoundFrame(pc: pc, isActivation: activation, isSignalFrame: false, cfa: nil, registers: regs,
                                           method: ctx.frames.isEmpty ? .initial : .cfi))
            if ctx.frames.count >= ctx.maxFrames { ctx.stoppedBy = "frame limit (\(ctx.maxFrames))"; return Int32(DWARF_CB_ABORT) }
            return Int32(DWARF_CB_OK)
        }, Unmanaged.passUnretained(context).toOpaque())
        var frames = context.frames
        let reason: String
        if let s = context.stoppedBy { reason = s } else if rc == 0 { reason = Unwinder.endOfStack } else {
            let at = context.frames.last.map { " past 0x" + String($0.pc, radix: 16) } ?? ""
            reason = "cannot unwind\(at): \(dwflError())"
        }
        context.readWord = nil
        if frames.isEmpty {
            // libdwfl could not even start: keep the initial registers as frame 0.
            frames = [UnwoundFrame(pc: registers[16], isActivation: true, isSignalFrame: false, cfa: nil,
                                   registers: registers.prefix(17).map { Optional($0) }, method: .initial)]
        }
        // Fill in CFA (the caller's rsp), signal frames, and which method gave each step.
        for i in frames.indices {
            if i + 1 < frames.count { frames[i].cfa = frames[i + 1].registers[7] }
            // libdwfl reports both the signal trampoline (its pc is the
            // trampoline's first byte) and the interrupted frame as activations.
            frames[i].isSignalFrame = i > 0 && frames[i].isActivation && !frames[i - 1].isSignalFrame
            if i > 0 { frames[i].method = hasCFI(at: frames[i - 1].lookupAddress) ? .cfi : .framePointer }
        }
        return Backtrace(frames: frames, stopReason: reason)
    }

    /// Unwinds with ``BiasedCFIStepper`` (see ``stepper``): frame 0 from
    /// `registers`, then one CFI row per frame until the return-address rule
    /// is undefined (end of stack) or no CFI covers the pc.
    func biasedUnwind(registers: [UInt64], maxFrames: Int, activation: Bool = true, readWord: @escaping @Sendable (UInt64) -> UInt64?) -> Backtrace {
        guard let stepper else { return Backtrace(frames: [], stopReason: "no stepper") }
        var regs: [UInt64?] = registers.prefix(17).map { Optional($0) }
        var frames = [UnwoundFrame(pc: registers[16], isActivation: activation, isSignalFrame: false, cfa: nil, registers: regs, method: .initial)]
        var reason = Unwinder.endOfStack
        while true {
            if frames.count >= maxFrames { reason = "frame limit (\(maxFrames))"; break }
            let f = frames[frames.count - 1]
            switch stepper.step(regs: regs, lookup: f.lookupAddress, readWord: { readWord($0) }) {
            case .outermost:
                reason = Unwinder.endOfStack
            case .noCFI:
                reason = "no CFI for 0x\(String(f.lookupAddress, radix: 16))"
            case .failed(let m):
                reason = m
            case .caller(let next):
                guard let pc = next[16], pc != 0 else { reason = Unwinder.endOfStack; break }
                if let sp = next[7], let prevSP = regs[7], sp <= prevSP {
                    reason = "stack pointer does not grow (0x\(String(sp, radix: 16)) after 0x\(String(prevSP, radix: 16))): loop or garbage"
                    break
                }
                frames[frames.count - 1].cfa = next[7]
                regs = next
                frames.append(UnwoundFrame(pc: pc, isActivation: false, isSignalFrame: false, cfa: nil, registers: next, method: .cfi))
                continue
            }
            break
        }
        return Backtrace(frames: frames, stopReason: reason)
    }

    /// True when `.eh_frame` or `.debug_frame` describes `address`.
    func hasCFI(at address: UInt64) -> Bool {
        guard let mod = dwfl_addrmodule(session.dwfl, address) else { return false }
        for get in [dwfl_module_eh_cfi, dwfl_module_dwarf_cfi] {
            var bias: Dwarf_Addr = 0
            guard let cfi = get(mod, &bias) else { continue }
            var frame: OpaquePointer?
            if dwarf_cfi_addrframe(cfi, address &- bias, &frame) == 0 {
                free(UnsafeMutableRawPointer(frame))
                return true
            }
        }
        return false
    }
}

import BinaryIO
import DWARF
import Dump
import ELF

extension CrashSession {
    /// Page tables for an aarch64 dump whose CPUs carry no TTBRs (QEMU's arm64
    /// dumps save none): the kernel's level-0 tables found by symbol, as
    /// Linux names them — `swapper_pg_dir` (TTBR1) and `idmap_pg_dir`
    /// (TTBR0, optional). Their physical address comes from VMCOREINFO's
    /// `NUMBER(kimage_voffset)` when present (Linux), else from the kernel
    /// image's PT_LOAD headers (virtual → load address), which is exact for
    /// a kernel that runs where it was linked, like our test guest.
    static func aarch64WalkerFromSymbols(dump: any Dump, symbols: Symbolizer?) -> (walker: PageWalker, source: String)? {
        guard dump.architecture == .aarch64, let symbols,
              let va1 = symbols.lookup(symbol: "swapper_pg_dir").first?.address else { return nil }
        let segments = (try? ELFFile(path: symbols.path))?.programHeaders.filter { $0.type == ProgramHeader.typeLoad } ?? []
        let voffset = dump.vmcoreinfo?.entries["NUMBER(kimage_voffset)"].flatMap { UInt64($0.hasPrefix("0x") ? String($0.dropFirst(2)) : $0, radix: 16) }
        func physical(_ va: UInt64) -> UInt64? {
            if let voffset { return va &- voffset }
            for p in segments where va >= p.virtualAddress && va - p.virtualAddress < p.memorySize {
                return va - p.virtualAddress + p.physicalAddress
            }
            return nil
        }
        guard let ttbr1 = physical(va1) else { return nil }
        let ttbr0 = symbols.lookup(symbol: "idmap_pg_dir").first.flatMap { physical($0.address) }
        let how = voffset != nil ? "VMCOREINFO kimage_voffset" : "the image's load addresses"
        let source = "swapper_pg_dir at physical 0x\(String(ttbr1, radix: 16))" + (ttbr0.map { ", idmap_pg_dir at 0x\(String($0, radix: 16))" } ?? "")
            + " (from \(how); the dump saves no TTBRs)"
        return (PageWalker(dump: dump, aarch64: AArch64PageWalker(ttbr0: ttbr0, ttbr1: ttbr1)), source)
    }

    /// Backtraces of aarch64 CPUs by their frame records (see
    /// ``aarch64FrameRecordFrames``), each frame symbolized with its inline
    /// chain; prologue analysis where there are no frame records at all.
    func aarch64Backtraces(symbols: Symbolizer, maxFrames: Int) -> [CPUBacktrace] {
        let tasks = linuxKernel != nil ? linuxCurrentTasks() : [:]
        return dump.cpus.map { cpu in
            guard let regs = cpu.aarch64 else { return CPUBacktrace(cpu: cpu.index, frames: [], stopReason: "no aarch64 registers") }
            guard let mem = PageWalker(dump: dump, cpu: cpu).map(VirtualMemory.init) ?? memory else {
                return CPUBacktrace(cpu: cpu.index, frames: [], stopReason: "no page tables for this CPU (no TTBR saved and no swapper_pg_dir symbol)")
            }
            var (physical, stop, records) = aarch64FrameRecordFrames(pc: regs.pc, sp: regs.sp, fp: regs.fp, lr: regs.lr,
                                                                     memory: mem, symbols: symbols, maxFrames: maxFrames)
            // No frame records (x29 zero or not a record: Debian's arm64 Xen
            // keeps none): prologue analysis instead, when it gets as far.
            if records == 0 {
                let alt = aarch64PrologueFrames(regs: regs, memory: mem, symbols: symbols, maxFrames: maxFrames)
                if alt.frames.count > 1 && alt.frames.count >= physical.count { physical = alt.frames; stop = alt.stop }
            }
            return CPUBacktrace(cpu: cpu.index, frames: symbolizeFrames(physical, symbols: symbols), stopReason: stop, task: tasks[cpu.index])
        }
    }

    /// Symbolized frames, one per inline level, numbered as gdb numbers them.
    func symbolizeFrames(_ physical: [(pc: UInt64, lookup: UInt64, method: String)], symbols: Symbolizer) -> [BacktraceFrame] {
        var frames = [BacktraceFrame]()
        for f in physical {
            let s = symbols.symbolize(f.lookup)
            var sym = s.symbol.map { n in "\(n)+0x\(String(s.symbolOffset &+ (f.lookup == f.pc ? 0 : f.pc &- f.lookup), radix: 16))" }
            var chain = s.frames.isEmpty ? [SymbolFrame(function: s.symbol, location: nil, inlined: false, dieOffset: nil)] : s.frames
            if s.symbol == nil || !s.inImage, let m = moduleFrameName(f.lookup, pc: f.pc) {
                sym = m.symbol
                chain = [SymbolFrame(function: m.function, location: nil, inlined: false, dieOffset: nil)]
            }
            for sf in chain {
                frames.append(BacktraceFrame(index: frames.count, pc: f.pc, function: sf.function, location: sf.location,
                                             inlined: sf.inlined, method: f.method, symbol: sym))
            }
        }
        return frames
    }

    /// Offset of `stackframe` in arm64 Linux's `struct pt_regs` (DWARF of
    /// the entry C code), nil for other kernels: the entry assembly links a
    /// frame record there, so an exception context shows up in the x29 chain.
    func aarch64PtRegsStackframeOffset(symbols: Symbolizer) -> UInt64? {
        guard linuxKernel != nil else { return nil }
        for f in ["el1h_64_irq_handler", "el0t_64_sync_handler", "do_el0_svc"] {
            if let a = address(of: f), let o = symbols.memberOffset(type: "pt_regs", member: "stackframe", inCUOf: a) { return UInt64(o) }
        }
        return nil
    }

    /// ``aarch64UnchainedCaller`` for the innermost frame of `regs`: nil for
    /// code without CFI (entry assembly), which is taken to be on the
    /// frame-record chain, as drgn and gdb take it.
    func aarch64FrameZeroCaller(regs: AArch64Registers, memory mem: VirtualMemory, symbols: Symbolizer) -> UInt64? {
        guard aarch64IsCompiledCode(regs.pc, symbols: symbols) else { return nil }
        return aarch64UnchainedCaller(pc: regs.pc, sp: regs.sp, fp: regs.fp, lr: regs.lr, memory: mem, symbols: symbols)
    }

    /// True when CFI describes `pc`, or `pc` is one of the two instructions
    /// `-fpatchable-function-entry=2` (ftrace) puts at a function's symbol
    /// before the code its CFI starts with: NOPs, at run time `mov x9, x30`
    /// and a NOP or `bl ftrace_caller` — none has touched sp or x30 yet.
    func aarch64IsCompiledCode(_ pc: UInt64, symbols: Symbolizer) -> Bool {
        if symbols.hasCFI(at: pc) { return true }
        let s = symbols.symbolize(pc)
        guard s.symbol != nil, s.symbolOffset < 8 else { return false }
        return symbols.hasCFI(at: pc - s.symbolOffset + 8)
    }

    /// The caller of a frame that has not yet made its own frame record the
    /// head of the x29 chain — a leaf, a shrink-wrapped function before its
    /// `stp x29, x30`, one between that store and `mov x29, sp`, or one in its
    /// epilogue: the return address is x30 (or the slot the prologue stored
    /// it in) and x29 still is the caller's. nil when the chain from x29 is
    /// already right. Only for the innermost frame and interrupted ones (the
    /// others are stopped at a call, with their record made).
    func aarch64UnchainedCaller(pc: UInt64, sp: UInt64, fp: UInt64, lr: UInt64?, memory mem: VirtualMemory, symbols: Symbolizer) -> UInt64? {
        let s = symbols.symbolize(pc)
        guard s.symbol != nil, s.inImage, s.symbolOffset <= pc,
              case .success(let shape) = aarch64FrameShape(pc: pc, functionStart: pc - s.symbolOffset, memory: mem),
              shape.elrSlot == nil else { return nil }
        func isText(_ a: UInt64) -> Bool { let t = symbols.symbolize(a &- 4); return t.symbol != nil && t.inImage }
        // x30 still live (not stored, or popped again by an epilogue).
        guard let slot = shape.returnAddressSlot, slot < shape.frameSize else {
            return lr.flatMap { isText($0) ? $0 : nil }
        }
        // Stored, but x29 does not point into this frame yet.
        if fp >= sp && fp < sp &+ shape.frameSize { return nil }
        guard let ret = try? mem.readWord(sp &+ slot), isText(ret) else { return nil }
        return ret
    }

    /// Unwinds one aarch64 context by frame records: x29 points at a
    /// {previous x29, return address} pair, chained up the stack until x29
    /// is zero. Frame 0 is the pc; a frame not yet on the chain (see
    /// ``aarch64UnchainedCaller``) adds its caller first. A record inside a
    /// Linux `pt_regs` (kernel-mode exception: its saved pc is the record's
    /// return address) gives the interrupted pc itself (not a return
    /// address: symbolized as is) and the interrupted registers, checked the
    /// same way. Return addresses are symbolized 4 bytes back, inside the call.
    func aarch64FrameRecordFrames(pc: UInt64, sp: UInt64, fp startFP: UInt64, lr: UInt64?, memory mem: VirtualMemory,
                                  symbols: Symbolizer, maxFrames: Int) -> (frames: [(pc: UInt64, lookup: UInt64, method: String)], stop: String, records: Int) {
        var records = 0
        var physical: [(pc: UInt64, lookup: UInt64, method: String)] = [(pc, pc, "initial")]
        // Code without CFI (entry assembly) is taken to be on the chain, as
        // drgn and gdb take it; compiled code is checked.
        if aarch64IsCompiledCode(pc, symbols: symbols), let ret = aarch64UnchainedCaller(pc: pc, sp: sp, fp: startFP, lr: lr, memory: mem, symbols: symbols) {
            physical.append((ret, ret &- 4, "link-register"))
        }
        let sfOffset = aarch64PtRegsStackframeOffset(symbols: symbols)
        var fp = startFP
        var blocks: Set<UInt64> = [startFP >> 14]
        var stop = "end of stack"
        while true {
            if fp == 0 { break }
            guard physical.count < maxFrames else { stop = "frame limit \(maxFrames) reached"; break }
            guard fp & 7 == 0 else { stop = "frame pointer 0x\(String(fp, radix: 16)) is misaligned"; break }
            let next: UInt64, ret: UInt64
            do {
                next = try mem.readWord(fp)
                ret = try mem.readWord(fp &+ 8)
            } catch {
                stop = "frame record at 0x\(String(fp, radix: 16)) unreadable: \(error)"
                break
            }
            if ret == 0 { break }
            records += 1
            // pt_regs: x0–x30 at 0, sp at 248, pc at 256, pstate at 264 (the
            // user_pt_regs ABI); the record is its `stackframe` member.
            if let off = sfOffset, fp >= off, let regsAt = Optional(fp - off),
               (try? mem.readWord(regsAt &+ 256)) == ret, let pstate = try? mem.readWord(regsAt &+ 264), (pstate >> 2) & 3 == 1,
               let isp = try? mem.readWord(regsAt &+ 248), let ilr = try? mem.readWord(regsAt &+ 240) {
                physical.append((ret, ret, "exception"))
                if physical.count < maxFrames, aarch64IsCompiledCode(ret, symbols: symbols),
                   let caller = aarch64UnchainedCaller(pc: ret, sp: isp, fp: next, lr: ilr, memory: mem, symbols: symbols) {
                    physical.append((caller, caller &- 4, "link-register"))
                }
            } else {
                physical.append((ret, ret &- 4, "frame-record"))
            }
            // The stack grows down: a record further down (or the same)
            // means a corrupt or looping chain.
            // means a corrupt or looping chain — unless it leaves the 16 KiB
            // stack block (an IRQ stack back to the task's) for one not seen.
            if next != 0 && next <= fp && (next >> 14 == fp >> 14 || blocks.contains(next >> 14)) {
                stop = "frame chain goes down at 0x\(String(fp, radix: 16)) (corrupt or looping)"; break
            }
            blocks.insert(next >> 14)
            fp = next
        }
        return (physical, stop, records)
    }
}

/// aarch64 registers as `crash`'s arm64 `bt` prints them.
func formatAArch64Registers(_ a: AArch64Registers) -> String {
    func h(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - s.count)) + s
    }
    var lines = ["     PC: \(h(a.pc))   LR: \(h(a.lr))   SP: \(h(a.sp))  PSTATE: \(String(a.pstate, radix: 16))"]
    var i = 29
    var row = [String]()
    while i >= 0 {
        let name = "X\(i)"
        row.append(String(repeating: " ", count: max(0, 3 - name.count)) + name + ": " + h(a.x[i]))
        if row.count == 3 || i == 0 { lines.append("    " + row.joined(separator: "  ")); row = [] }
        i -= 1
    }
    var sys = [String]()
    if let v = a.ttbr0 { sys.append("TTBR0_EL1: \(h(v))") }
    if let v = a.ttbr1 { sys.append("TTBR1_EL1: \(h(v))") }
    if let v = a.tcr { sys.append("TCR_EL1: \(h(v))") }
    if !sys.isEmpty { lines.append("    " + sys.joined(separator: "  ")) }
    return lines.joined(separator: "\n")
}

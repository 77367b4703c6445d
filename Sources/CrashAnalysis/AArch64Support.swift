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

    /// Backtraces of aarch64 CPUs by their frame records: x29 points at a
    /// {previous x29, return address} pair, chained up the stack until x29
    /// is zero. Frame 0 is the saved pc; each return address is symbolized
    /// (4 bytes back, inside the call) with its inline chain.
    func aarch64Backtraces(symbols: Symbolizer, maxFrames: Int) -> [CPUBacktrace] {
        dump.cpus.map { cpu in
            guard let regs = cpu.aarch64 else { return CPUBacktrace(cpu: cpu.index, frames: [], stopReason: "no aarch64 registers") }
            guard let mem = PageWalker(dump: dump, cpu: cpu).map(VirtualMemory.init) ?? memory else {
                return CPUBacktrace(cpu: cpu.index, frames: [], stopReason: "no page tables for this CPU (no TTBR saved and no swapper_pg_dir symbol)")
            }
            var physical: [(pc: UInt64, lookup: UInt64, method: String)] = [(regs.pc, regs.pc, "initial")]
            var fp = regs.fp
            // The innermost function may not have its own frame record yet
            // (a leaf, or a pc before `mov x29, sp`): x29 is then its
            // caller's record, which names the caller's caller, so the
            // caller comes from x30 or the slot the prologue saved it in.
            let frameZeroCaller = aarch64FrameZeroCaller(regs: regs, memory: mem, symbols: symbols)
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
                physical.append((ret, ret &- 4, "frame-record"))
                // The stack grows down: a record further down (or the same)
                // means a corrupt or looping chain.
                if next != 0 && next <= fp { stop = "frame chain goes down at 0x\(String(fp, radix: 16)) (corrupt or looping)"; break }
                fp = next
            }
            // No frame records (x29 zero or not a record: Debian's arm64 Xen
            // keeps none): prologue analysis instead, when it gets further.
            if physical.count == 1, let mem = PageWalker(dump: dump, cpu: cpu).map(VirtualMemory.init) ?? memory {
                let alt = aarch64PrologueFrames(regs: regs, memory: mem, symbols: symbols, maxFrames: maxFrames)
                if alt.frames.count > 1 { physical = alt.frames; stop = alt.stop }
            } else if let caller = frameZeroCaller {
                physical.insert((caller, caller &- 4, caller == regs.lr ? "link-register" : "prologue"), at: 1)
            }
            var frames = [BacktraceFrame]()
            for f in physical {
                let s = symbols.symbolize(f.lookup)
                let chain = s.frames.isEmpty ? [SymbolFrame(function: s.symbol, location: nil, inlined: false, dieOffset: nil)] : s.frames
                for sf in chain {
                    frames.append(BacktraceFrame(index: frames.count, pc: f.pc, function: sf.function, location: sf.location,
                                                 inlined: sf.inlined, method: f.method))
                }
            }
            return CPUBacktrace(cpu: cpu.index, frames: frames, stopReason: stop)
        }
    }
}

extension CrashSession {
    /// The return address of the innermost function when its frame record
    /// is not (yet) what x29 points to; nil when x29 is its own record, or
    /// when its code cannot be analysed (the frame-record chain alone then).
    func aarch64FrameZeroCaller(regs: AArch64Registers, memory mem: VirtualMemory, symbols: Symbolizer) -> UInt64? {
        let s = symbols.symbolize(regs.pc)
        guard s.symbol != nil, s.inImage, s.symbolOffset <= regs.pc,
              case .success(let shape) = aarch64FrameShape(pc: regs.pc, functionStart: regs.pc - s.symbolOffset, memory: mem)
        else { return nil }
        guard let slot = shape.returnAddressSlot else {
            return regs.lr == 0 ? nil : regs.lr
        }
        // A frame record is the pair (x29, x30): its x30 sits 8 bytes above it.
        if regs.fp == regs.sp &+ slot &- 8 { return nil }
        guard let saved = try? mem.readWord(regs.sp &+ slot), saved != 0 else { return nil }
        return saved
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

import DWARF
import Dump

/// What an aarch64 function's prologue did to the stack by a given pc: how
/// far it moved sp down and where it saved the return address (x30). The
/// unwinder for code without frame records or CFI — Debian's arm64 Xen is
/// built without frame pointers (not one `mov x29, sp` in its xen-syms) and
/// ships no `.eh_frame` or DWARF — as gdb does by prologue analysis.
public struct AArch64FrameShape: Sendable, Equatable {
    /// Bytes the function has subtracted from sp by the pc.
    public var frameSize: UInt64
    /// Offset from the current sp of the slot holding x30, nil while x30 is
    /// still live in the register (a leaf, or the pc is before the store).
    public var returnAddressSlot: UInt64?
    /// For exception-entry code (it reads ELR_EL2 and stores it on the
    /// stack): offsets from the current sp of the saved ELR_EL2 (the
    /// interrupted pc) and SPSR_EL2 (the interrupted mode, 32-bit slot).
    public var elrSlot: UInt64? = nil
    public var spsrSlot: UInt64? = nil

    public init(frameSize: UInt64, returnAddressSlot: UInt64?, elrSlot: UInt64? = nil, spsrSlot: UInt64? = nil) {
        self.frameSize = frameSize
        self.returnAddressSlot = returnAddressSlot
        self.elrSlot = elrSlot
        self.spsrSlot = spsrSlot
    }
}

/// Decodes the instructions GCC and Clang emit in aarch64 prologues and
/// epilogues (A64 encodings from the Arm ARM; only sp-relative forms count).
public enum AArch64PrologueAnalysis {
    /// Simulates `code` (the function's instructions from its first up to,
    /// not including, the pc) in address order. Conditional branches are
    /// stepped over; at a `ret` or an unconditional branch before the pc (an
    /// early return or tail call, the pc being reached by a jump past it) the
    /// frame is taken as it was before that epilogue began, i.e. the deepest
    /// one. Returns nil for an sp change it cannot follow (sp from a register).
    public static func shape(code: [UInt32]) -> AArch64FrameShape? {
        // Positions are "bytes below the function's entry sp", so they stay
        // valid while sp moves; the result converts them to offsets from the
        // final sp.
        var size: UInt64 = 0
        var lrAt: UInt64? = nil
        var deepest = (size: UInt64(0), lr: UInt64?.none)
        var holds: [UInt32: Bool] = [:]      // register → true: holds ELR_EL2, false: SPSR_EL2
        var based: [UInt32: UInt64] = [:]    // register = sp + imm (as a position below entry sp)
        var elrAt: UInt64? = nil, spsrAt: UInt64? = nil
        func base(_ rn: UInt32) -> UInt64? { rn == 31 ? size : based[rn] }
        func stored(_ reg: UInt32, at below: UInt64) {
            if reg == 30 { lrAt = below }
            if holds[reg] == true { elrAt = below } else if holds[reg] == false { spsrAt = below }
        }
        func imm7(_ insn: UInt32) -> UInt64 { UInt64(bitPattern: Int64(Int32(bitPattern: ((insn >> 15) & 0x7f) << 25) >> 25) * 8) }
        func imm9(_ insn: UInt32) -> UInt64 { UInt64(bitPattern: Int64(Int32(bitPattern: ((insn >> 12) & 0x1ff) << 23) >> 23)) }
        func imm12(_ insn: UInt32) -> UInt64 { UInt64((insn >> 10) & 0xfff) << ((insn >> 22) & 1 == 1 ? 12 : 0) }
        for insn in code {
            let rn = (insn >> 5) & 31, rt = insn & 31, rt2 = (insn >> 10) & 31
            switch insn {
            // MRS Xt, ELR_EL2 / SPSR_EL2 (exception entry)
            case _ where insn & 0xffff_ffe0 == 0xd53c_4020: holds[rt] = true
            case _ where insn & 0xffff_ffe0 == 0xd53c_4000: holds[rt] = false
            // STP (64-bit) pre-index, base sp: pushes.
            case _ where insn & 0xffc0_0000 == 0xa980_0000 && rn == 31:
                size &-= imm7(insn)
                stored(rt, at: size); stored(rt2, at: size &- 8)
            // STP (64-bit) signed offset, base sp or sp + imm.
            case _ where insn & 0xffc0_0000 == 0xa900_0000 && base(rn) != nil:
                let b = base(rn)! &- imm7(insn)
                stored(rt, at: b); stored(rt2, at: b &- 8)
            // STR (64-bit) pre-index, base sp: pushes.
            case _ where insn & 0xffe0_0c00 == 0xf800_0c00 && rn == 31:
                size &-= imm9(insn)
                stored(rt, at: size)
            // STR (64-bit / 32-bit) unsigned offset, base sp or sp + imm.
            case _ where insn & 0xffc0_0000 == 0xf900_0000 && base(rn) != nil:
                stored(rt, at: base(rn)! &- UInt64((insn >> 10) & 0xfff) * 8)
            case _ where insn & 0xffc0_0000 == 0xb900_0000 && base(rn) != nil:
                stored(rt, at: base(rn)! &- UInt64((insn >> 10) & 0xfff) * 4)
            // SUB sp, sp, #imm: allocates.
            case _ where insn & 0xff80_0000 == 0xd100_0000 && rn == 31 && rt == 31:
                size &+= imm12(insn)
            // ADD sp, sp, #imm: an epilogue popping the frame.
            case _ where insn & 0xff80_0000 == 0x9100_0000 && rn == 31 && rt == 31:
                size &-= imm12(insn)
            // ADD Xd, sp, #imm: a pointer into the frame.
            case _ where insn & 0xff80_0000 == 0x9100_0000 && rn == 31:
                based[rt] = size &- imm12(insn)
            // mov sp, xN / add or sub sp, xN, #imm: sp from a register, not followed.
            case _ where insn & 0xbf00_0000 == 0x9100_0000 && rt == 31 && rn != 31:
                return nil
            // LDP / LDR (64-bit) post-index, base sp: pops.
            case _ where insn & 0xffc0_0000 == 0xa8c0_0000 && rn == 31:
                size &+= 0 &- imm7(insn)
            case _ where insn & 0xffe0_0c00 == 0xf840_0400 && rn == 31:
                size &+= 0 &- imm9(insn)
            // RET, or B (unconditional, a tail call or a jump): the pc lies
            // beyond an exit, so the function body's frame applies.
            case _ where insn & 0xffff_fc1f == 0xd65f_0000, _ where insn & 0xfc00_0000 == 0x1400_0000:
                size = deepest.size; lrAt = deepest.lr
            default:
                // Any other write to a tracked register ends what it held.
                if insn & 0x1f != 31 && rt != 31 && !(insn & 0xffc0_0000 == 0xa900_0000) {
                    if holds[rt] != nil && insn & 0xffe0_0000 != 0xd53c_0000 { holds[rt] = nil }
                    based[rt] = nil
                }
            }
            if size > deepest.size || (size == deepest.size && lrAt != nil) { deepest = (size, lrAt) }
        }
        return AArch64FrameShape(frameSize: size, returnAddressSlot: lrAt.map { size &- $0 },
                                 elrSlot: elrAt.map { size &- $0 }, spsrSlot: spsrAt.map { size &- $0 })
    }
}

/// Why a function's frame shape could not be worked out (empty: sp moved
/// through a register).
struct AArch64ShapeFailure: Error, CustomStringConvertible { let description: String }

extension CrashSession {
    /// The frame shape of the function starting at `functionStart` when it
    /// is at `pc`: its instructions up to the pc, read from the dump and
    /// simulated by ``AArch64PrologueAnalysis``.
    func aarch64FrameShape(pc: UInt64, functionStart start: UInt64, memory mem: VirtualMemory) -> Result<AArch64FrameShape, AArch64ShapeFailure> {
        let count = Int((pc &- start) / 4)
        guard pc >= start, count <= 16384 else { return .failure(.init(description: "function at 0x\(String(start, radix: 16)) too long to analyse")) }
        let bytes: [UInt8]
        do { bytes = try mem.read(start, count: count * 4) } catch {
            return .failure(.init(description: "code at 0x\(String(start, radix: 16)) unreadable: \(error)"))
        }
        var code = [UInt32]()
        code.reserveCapacity(count)
        for i in 0..<count {
            code.append(UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24)
        }
        guard let shape = AArch64PrologueAnalysis.shape(code: code) else { return .failure(.init(description: "")) }
        return .success(shape)
    }

    /// Unwinds one aarch64 CPU by prologue analysis (``AArch64PrologueAnalysis``):
    /// from each pc, the function's start (its symbol), the instructions up to
    /// the pc read from the dump, the frame size and saved-x30 slot they give;
    /// the caller's sp is sp + frame size, its pc the saved x30 (frame 0 may
    /// still have it in the register). Stops at code outside any symbol
    /// (entry assembly, guest addresses) or when a frame cannot be followed.
    func aarch64PrologueFrames(regs: AArch64Registers, memory mem: VirtualMemory, symbols: Symbolizer,
                               maxFrames: Int) -> (frames: [(pc: UInt64, lookup: UInt64, method: String)], stop: String) {
        var frames: [(pc: UInt64, lookup: UInt64, method: String)] = [(regs.pc, regs.pc, "initial")]
        var pc = regs.pc, lookup = regs.pc, sp = regs.sp
        var leafLR: UInt64? = regs.lr    // x30 as the innermost frame (or an interrupted one) left it
        while true {
            guard frames.count < maxFrames else { return (frames, "frame limit \(maxFrames) reached") }
            let s = symbols.symbolize(lookup)
            guard s.symbol != nil, s.inImage, s.symbolOffset <= lookup else {
                return (frames, "0x\(String(pc, radix: 16)) is in no function of the image")
            }
            let shape: AArch64FrameShape
            switch aarch64FrameShape(pc: pc, functionStart: lookup - s.symbolOffset, memory: mem) {
            case .success(let found): shape = found
            case .failure(let why): return (frames, why.description.isEmpty ? "\(s.symbol!) moves sp through a register; not followed" : why.description)
            }
            if let elrSlot = shape.elrSlot {
                // An exception entry: the interrupted context is on the stack.
                let elr: UInt64, lr: UInt64?, spsr: UInt64?
                do {
                    elr = try mem.readWord(sp &+ elrSlot)
                    lr = try shape.returnAddressSlot.map { try mem.readWord(sp &+ $0) }
                    spsr = try shape.spsrSlot.map { try mem.readWord(sp &+ $0) & 0xffff_ffff }
                } catch {
                    return (frames, "trap frame of \(s.symbol!) unreadable: \(error)")
                }
                if let spsr, (spsr >> 2) & 3 != 2 {
                    return (frames, "trap from the guest (EL\((spsr >> 2) & 3)) at pc 0x\(String(elr, radix: 16))")
                }
                sp &+= shape.frameSize
                pc = elr
                lookup = elr
                leafLR = lr
                frames.append((elr, elr, "trap-frame"))
                continue
            }
            let ret: UInt64
            if let slot = shape.returnAddressSlot {
                do { ret = try mem.readWord(sp &+ slot) } catch {
                    return (frames, "saved x30 at 0x\(String(sp &+ slot, radix: 16)) unreadable: \(error)")
                }
            } else if let lr = leafLR {
                ret = lr               // a leaf, or before its prologue stored x30
            } else {
                return (frames, "\(s.symbol!) has not saved x30 at 0x\(String(pc, radix: 16))")
            }
            if ret == 0 { return (frames, "end of stack") }
            // Only the innermost or an interrupted function may be frameless
            // (a leaf); elsewhere a zero frame would repeat the same sp.
            if frames.count > 1 && shape.frameSize == 0 && leafLR == nil { return (frames, "\(s.symbol!) has no frame; chain not followed") }
            sp &+= shape.frameSize
            pc = ret
            lookup = ret &- 4
            leafLR = nil
            frames.append((ret, lookup, "prologue"))
        }
    }
}

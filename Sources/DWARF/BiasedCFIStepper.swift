import CElfUtils
#if canImport(Glibc)
import Glibc
#endif

/// DWARF CFI unwinding for an executable (ET_EXEC) loaded away from its link
/// address — a Linux kernel under KASLR. libdwfl's frame unwinder always
/// places ET_EXEC at its link address, so it cannot follow such a stack; here
/// each step looks up the CFI row at `pc − bias` (libdw's CFI tables) and
/// evaluates the CFA and register rules itself, on run-time values.
struct BiasedCFIStepper {
    /// CFI tables of one image: `.debug_frame` and/or `.eh_frame`, with the
    /// bias libdw reports for each (0 for ET_EXEC) plus the run-time bias.
    struct Table {
        var cfi: OpaquePointer
        var tableBias: UInt64
        var runBias: UInt64
        var range: Range<UInt64>
    }
    let tables: [Table]

    /// One CFI row's result: the caller's registers (nil = unknown) and
    /// whether the return-address rule says "undefined" (outermost frame).
    enum Step {
        case caller([UInt64?])
        case outermost
        case noCFI
        case failed(String)
    }

    /// Computes the caller's registers from `regs` (DWARF numbering 0…16,
    /// 16 = pc) at `lookup` (pc, or pc − 1 for a return address).
    func step(regs: [UInt64?], lookup: UInt64, readWord: (UInt64) -> UInt64?) -> Step {
        for t in tables where t.range.contains(lookup) {
            var frame: OpaquePointer?
            guard dwarf_cfi_addrframe(t.cfi, lookup &- t.runBias &- t.tableBias, &frame) == 0, let frame else { continue }
            defer { free(UnsafeMutableRawPointer(frame)) }
            let raReg = Int(dwarf_frame_info(frame, nil, nil, nil))
            var cfaOps: UnsafeMutablePointer<Dwarf_Op>?
            var cfaN = 0
            guard dwarf_frame_cfa(frame, &cfaOps, &cfaN) == 0, let cfaOps, cfaN > 0 else { return .failed("CFA rule unreadable at 0x\(hex(lookup))") }
            guard let cfa = Self.evaluate(UnsafeBufferPointer(start: cfaOps, count: cfaN), regs: regs, cfa: nil, readWord: readWord) else {
                return .failed("CFA not computable at 0x\(hex(lookup))")
            }
            var out = [UInt64?](repeating: nil, count: 17)
            var raUndefined = false
            for r in 0..<17 {
                let reg = r == 16 ? raReg : r
                var mem = [Dwarf_Op](repeating: Dwarf_Op(), count: 3)
                // *ops may point into `mem`: use it inside the closure only.
                mem.withUnsafeMutableBufferPointer { memBuf in
                    var ops: UnsafeMutablePointer<Dwarf_Op>?
                    var n = 0
                    guard dwarf_frame_register(frame, Int32(reg), memBuf.baseAddress!, &ops, &n) == 0 else { return }
                    if n == 0 {
                        if ops == nil { out[r] = reg < regs.count ? regs[reg] : nil }          // same value
                        else if r == 16 { raUndefined = true }         // undefined
                        return
                    }
                    let buf = UnsafeBufferPointer(start: ops!, count: n)
                    let isValue = buf.last?.atom == UInt8(DW_OP_stack_value)
                    guard let v = Self.evaluate(isValue ? UnsafeBufferPointer(rebasing: buf.dropLast()) : buf, regs: regs, cfa: cfa, readWord: readWord) else { return }
                    out[r] = isValue ? v : readWord(v)
                }
            }
            if raUndefined { return .outermost }
            out[7] = cfa
            return .caller(out)
        }
        return .noCFI
    }

    /// A DWARF expression over registers and the CFA (the subset CFI uses:
    /// constants, register bases, arithmetic, dereference). nil when an
    /// operand is unknown or the operation unsupported.
    static func evaluate(_ ops: UnsafeBufferPointer<Dwarf_Op>, regs: [UInt64?], cfa: UInt64?, readWord: (UInt64) -> UInt64?) -> UInt64? {
        var stack = [UInt64]()
        for op in ops {
            let a = Int(op.atom)
            switch a {
            case Int(DW_OP_lit0)...Int(DW_OP_lit31): stack.append(UInt64(a - Int(DW_OP_lit0)))
            case Int(DW_OP_breg0)...Int(DW_OP_breg31):
                let r = a - Int(DW_OP_breg0)
                guard r < regs.count, let v = regs[r] else { return nil }
                stack.append(v &+ op.number)
            case Int(DW_OP_bregx):
                guard Int(op.number) < regs.count, let v = regs[Int(op.number)] else { return nil }
                stack.append(v &+ op.number2)
            case Int(DW_OP_call_frame_cfa):
                guard let cfa else { return nil }
                stack.append(cfa)
            case Int(DW_OP_const1u), Int(DW_OP_const2u), Int(DW_OP_const4u), Int(DW_OP_const8u), Int(DW_OP_constu),
                 Int(DW_OP_const1s), Int(DW_OP_const2s), Int(DW_OP_const4s), Int(DW_OP_const8s), Int(DW_OP_consts),
                 Int(DW_OP_addr):
                stack.append(op.number)
            case Int(DW_OP_plus_uconst):
                guard let t = stack.popLast() else { return nil }
                stack.append(t &+ op.number)
            case Int(DW_OP_plus), Int(DW_OP_minus), Int(DW_OP_and), Int(DW_OP_or), Int(DW_OP_mul):
                guard let b = stack.popLast(), let x = stack.popLast() else { return nil }
                switch a {
                case Int(DW_OP_plus): stack.append(x &+ b)
                case Int(DW_OP_minus): stack.append(x &- b)
                case Int(DW_OP_and): stack.append(x & b)
                case Int(DW_OP_or): stack.append(x | b)
                default: stack.append(x &* b)
                }
            case Int(DW_OP_deref):
                guard let t = stack.popLast(), let v = readWord(t) else { return nil }
                stack.append(v)
            case Int(DW_OP_dup):
                guard let t = stack.last else { return nil }
                stack.append(t)
            case Int(DW_OP_nop): break
            default: return nil
            }
        }
        return stack.last
    }
}

private func hex(_ v: UInt64) -> String { String(v, radix: 16) }

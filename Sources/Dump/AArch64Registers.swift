import BinaryIO

/// Registers of one aarch64 CPU at the time of the dump.
///
/// From the notes QEMU's `dump-guest-memory` writes for arm64 guests (checked
/// with QEMU 7.2: `CORE`/NT_PRSTATUS and `CORE`/NT_PRFPREG per vCPU, nothing
/// else — no system registers): Linux `struct elf_prstatus` for arm64 has
/// `pr_pid` (i32) at +32 and `pr_reg` = `user_pt_regs` at +112: x0–x30, sp,
/// pc, pstate (34 × u64). NT_PRFPREG is `user_fpsimd_state`: v0–v31
/// (32 × 16 bytes), fpsr (u32), fpcr (u32).
///
/// The translation registers (TTBR0_EL1, TTBR1_EL1, TCR_EL1) are optional:
/// QEMU does not save them, so the crash analysis takes the page-table root
/// from the kernel's symbols instead (see `CrashSession`).
public struct AArch64Registers: Sendable, Equatable, Codable {
    /// `e_machine` of aarch64 ELF files (EM_AARCH64).
    public static let elfMachine: UInt16 = 183
    /// NT_PRFPREG (NT_FPREGSET).
    public static let prfpreg: UInt32 = 2

    /// x0–x30 (x29 is the frame pointer, x30 the link register).
    public var x: [UInt64] = Array(repeating: 0, count: 31)
    public var sp: UInt64 = 0
    public var pc: UInt64 = 0
    /// PSTATE as saved in the core (gdb calls it `cpsr`).
    public var pstate: UInt64 = 0
    public var fpsr: UInt32?
    public var fpcr: UInt32?
    /// v0–v31, 16 bytes each, little-endian (512 bytes), when the dump has NT_PRFPREG.
    public var vregs: [UInt8]?
    public var ttbr0: UInt64?
    public var ttbr1: UInt64?
    public var tcr: UInt64?

    public init() {}

    public var fp: UInt64 { x[29] }
    public var lr: UInt64 { x[30] }

    /// Named registers in gdb's `info registers` order for an aarch64 core.
    public var named: [(name: String, value: UInt64?)] {
        var r: [(name: String, value: UInt64?)] = (0..<31).map { ("x\($0)", x[$0]) }
        r += [("sp", sp), ("pc", pc), ("cpsr", pstate), ("fpsr", fpsr.map(UInt64.init)), ("fpcr", fpcr.map(UInt64.init)),
              ("ttbr0_el1", ttbr0), ("ttbr1_el1", ttbr1), ("tcr_el1", tcr)]
        return r
    }

    static let prstatusMinimum = 112 + 34 * 8
    static let prfpregSize = 32 * 16 + 8

    /// One CPU per NT_PRSTATUS; the NT_PRFPREG that follows it (QEMU writes
    /// them in pairs) adds the FP/SIMD state.
    static func cpus(from notes: [DumpNote], file: String, diagnostics: inout [InputError]) -> [CPUState] {
        var cpus = [CPUState]()
        var lastWasPrstatus = false
        for n in notes where n.name == "CORE" {
            if n.type == CPUNotes.prstatus {
                lastWasPrstatus = false
                guard n.descriptor.count >= prstatusMinimum else {
                    diagnostics.append(InputError(file: file, offset: n.fileOffset,
                        "NT_PRSTATUS note has \(n.descriptor.count) bytes, aarch64 needs \(prstatusMinimum); CPU skipped"))
                    continue
                }
                let pid = Int(Int32(bitPattern: CPUNotes.u32(n.descriptor, CPUNotes.prPidOffset)))
                var a = AArch64Registers()
                let base = CPUNotes.prRegOffset
                for i in 0..<31 { a.x[i] = CPUNotes.u64(n.descriptor, base + 8 * i) }
                a.sp = CPUNotes.u64(n.descriptor, base + 31 * 8)
                a.pc = CPUNotes.u64(n.descriptor, base + 32 * 8)
                a.pstate = CPUNotes.u64(n.descriptor, base + 33 * 8)
                var c = CPUState(index: cpus.count)
                c.aarch64 = a
                c.source = "NT_PRSTATUS aarch64 (pr_pid \(pid))"
                cpus.append(c)
                lastWasPrstatus = true
            } else if n.type == prfpreg {
                defer { lastWasPrstatus = false }
                guard lastWasPrstatus, let i = cpus.indices.last else {
                    diagnostics.append(InputError(file: file, offset: n.fileOffset, "NT_PRFPREG note not after an NT_PRSTATUS; ignored"))
                    continue
                }
                guard n.descriptor.count >= prfpregSize else {
                    diagnostics.append(InputError(file: file, offset: n.fileOffset,
                        "NT_PRFPREG note has \(n.descriptor.count) bytes, aarch64 needs \(prfpregSize); FP/SIMD registers of CPU \(i) unknown"))
                    continue
                }
                cpus[i].aarch64?.vregs = Array(n.descriptor[0..<512])
                cpus[i].aarch64?.fpsr = CPUNotes.u32(n.descriptor, 512)
                cpus[i].aarch64?.fpcr = CPUNotes.u32(n.descriptor, 516)
                cpus[i].source += " + NT_PRFPREG"
            } else {
                lastWasPrstatus = false
            }
        }
        return cpus
    }
}

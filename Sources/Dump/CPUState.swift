/// Registers of one CPU at the time of the dump (x86-64).
///
/// General registers always come from the dump's prstatus-like record; the
/// control registers, segment bases and EFER only where the format saves them
/// (QEMU's CPU-state note, Xen's CRASH_REGS note, xc_core's vcpu context), so
/// they are optional rather than guessed.
public struct CPUState: Sendable, Equatable, Codable {
    /// CPU index, 0-based (QEMU's `pr_pid` is index + 1).
    public var index: Int
    public var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
    public var rsi: UInt64 = 0, rdi: UInt64 = 0, rbp: UInt64 = 0, rsp: UInt64 = 0
    public var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    public var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    public var rip: UInt64 = 0, rflags: UInt64 = 0
    public var cs: UInt64 = 0, ss: UInt64 = 0, ds: UInt64 = 0, es: UInt64 = 0, fs: UInt64 = 0, gs: UInt64 = 0
    public var fsBase: UInt64?
    public var gsBase: UInt64?
    /// Xen PV: the kernel GS base (`gs_base_kernel`); QEMU: not saved.
    public var kernelGsBase: UInt64?
    public var cr0: UInt64?
    public var cr2: UInt64?
    public var cr3: UInt64?
    public var cr4: UInt64?
    public var efer: UInt64?
    /// The registers of an aarch64 CPU; nil on x86 (whose fields above are
    /// then unused zeros on arm64).
    public var aarch64: AArch64Registers?
    /// Where the registers came from, e.g. "NT_PRSTATUS + QEMU note".
    public var source: String = ""

    public init(index: Int) { self.index = index }

    /// The 17 registers in x86-64 DWARF numbering (0 rax, 1 rdx, 2 rcx, 3 rbx,
    /// 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8–15 r8–r15, 16 rip), the order unwinders use.
    public var dwarfRegisters: [UInt64] {
        [rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15, rip]
    }

    /// Named registers in the order `gdb`'s `info registers` prints them,
    /// followed by those gdb does not show for a core (control registers).
    public var named: [(name: String, value: UInt64?)] {
        if let aarch64 { return aarch64.named }
        return [("rax", rax), ("rbx", rbx), ("rcx", rcx), ("rdx", rdx), ("rsi", rsi), ("rdi", rdi),
         ("rbp", rbp), ("rsp", rsp), ("r8", r8), ("r9", r9), ("r10", r10), ("r11", r11),
         ("r12", r12), ("r13", r13), ("r14", r14), ("r15", r15), ("rip", rip), ("eflags", rflags),
         ("cs", cs), ("ss", ss), ("ds", ds), ("es", es), ("fs", fs), ("gs", gs),
         ("fs_base", fsBase), ("gs_base", gsBase), ("k_gs_base", kernelGsBase),
         ("cr0", cr0), ("cr2", cr2), ("cr3", cr3), ("cr4", cr4), ("efer", efer)]
    }

    /// True when the CPU was in long mode with paging (CR0.PG and EFER.LMA, or
    /// a 64-bit code segment when EFER is unknown).
    public var pagingLevels: Int? {
        guard let cr0, cr0 & (1 << 31) != 0 else { return cr0 == nil ? nil : 0 }
        if let cr4, cr4 & (1 << 12) != 0 { return 5 }
        return 4
    }
}

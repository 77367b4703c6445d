import BinaryIO

/// Decodes the CPU-related notes that dumps carry into ``CPUState`` values.
///
/// Layouts (x86-64), all restated from the writers' headers:
/// - `CORE`/`NT_PRSTATUS` (1): Linux `struct elf_prstatus`; `pr_pid` (i32) at
///   +32, `pr_reg` (27 × u64 in `user_regs_struct` order r15 r14 r13 r12 rbp
///   rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss
///   fs_base gs_base ds es fs gs) at +112. QEMU sets `pr_pid` = CPU index + 1;
///   Xen's crash notes set it to the pCPU number.
/// - `QEMU`/0: QEMU's `QEMUCPUState` (target/i386/arch_dump.c), version 1:
///   u32 version, u32 size, rax rbx rcx rdx rsi rdi rsp rbp r8–r15, rip,
///   rflags, ten segments {u32 selector, u32 limit, u32 flags, u32 pad,
///   u64 base} for cs ds es fs gs ss ldt tr gdt idt, then cr[5] (432 bytes);
///   QEMU ≥ 5 appends kernel_gs_base at +432 and says size 440.
/// - `Xen`/0x1000002 `XEN_ELFNOTE_CRASH_REGS`: `crash_xen_core_t` = cr0 cr2
///   cr3 cr4 (4 × u64), after each pCPU's NT_PRSTATUS
///   (xen/include/public/elfnote.h, xen/arch/x86/include/asm/x86_64/elf.h).
public enum CPUNotes {
    public static let prstatus: UInt32 = 1
    public static let xenCrashRegs: UInt32 = 0x1000002
    public static let xenCrashInfo: UInt32 = 0x1000001
    static let prPidOffset = 32
    static let prRegOffset = 112
    static let prstatusMinimum = 112 + 27 * 8

    /// Builds one CPU state per `NT_PRSTATUS`, completed by the matching QEMU
    /// CPU-state note or Xen CRASH_REGS note. QEMU writes all PRSTATUS notes
    /// first and then all QEMU notes, so the k-th of each kind belong
    /// together; Xen writes CRASH_REGS right after its PRSTATUS.
    public static func cpus(from notes: [DumpNote], file: String, architecture: Architecture = .x86_64, diagnostics: inout [InputError]) -> [CPUState] {
        if architecture == .aarch64 { return AArch64Registers.cpus(from: notes, file: file, diagnostics: &diagnostics) }
        var cpus = [CPUState]()
        var qemuIndex = 0
        var lastWasPrstatus = false
        for n in notes {
            if n.name == "CORE" && n.type == prstatus {
                lastWasPrstatus = false
                guard n.descriptor.count >= prstatusMinimum else {
                    diagnostics.append(InputError(file: file, offset: n.fileOffset,
                        "NT_PRSTATUS note has \(n.descriptor.count) bytes, x86-64 needs \(prstatusMinimum); CPU skipped"))
                    continue
                }
                let pid = Int(Int32(bitPattern: u32(n.descriptor, prPidOffset)))
                var c = CPUState(index: cpus.count)
                let r = (0..<27).map { u64(n.descriptor, prRegOffset + 8 * $0) }
                (c.r15, c.r14, c.r13, c.r12, c.rbp, c.rbx, c.r11, c.r10, c.r9, c.r8) = (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])
                (c.rax, c.rcx, c.rdx, c.rsi, c.rdi) = (r[10], r[11], r[12], r[13], r[14])
                (c.rip, c.cs, c.rflags, c.rsp, c.ss) = (r[16], r[17], r[18], r[19], r[20])
                (c.fsBase, c.gsBase) = (r[21], r[22])
                (c.ds, c.es, c.fs, c.gs) = (r[23], r[24], r[25], r[26])
                c.source = "NT_PRSTATUS (pr_pid \(pid))"
                cpus.append(c)
                lastWasPrstatus = true
            } else if n.name == "QEMU" && n.type == 0 {
                lastWasPrstatus = false
                defer { qemuIndex += 1 }
                guard qemuIndex < cpus.count else {
                    diagnostics.append(InputError(file: file, offset: n.fileOffset, "QEMU CPU-state note without a matching NT_PRSTATUS; ignored"))
                    continue
                }
                guard n.descriptor.count >= 432, u32(n.descriptor, 0) == 1 else {
                    diagnostics.append(InputError(file: file, offset: n.fileOffset,
                        "QEMU CPU-state note: \(n.descriptor.count) bytes, version \(n.descriptor.count >= 4 ? u32(n.descriptor, 0) : 0); expected version 1, 432 bytes; CPU \(qemuIndex) keeps NT_PRSTATUS registers only"))
                    continue
                }
                let d = n.descriptor
                let segBase = 8 + 18 * 8            // after version, size, 16 GPRs, rip, rflags
                func seg(_ i: Int) -> (selector: UInt64, base: UInt64) {
                    (UInt64(u32(d, segBase + 24 * i)), u64(d, segBase + 24 * i + 16))
                }
                // cs ds es fs gs ss ldt tr gdt idt
                cpus[qemuIndex].fsBase = seg(3).base
                cpus[qemuIndex].gsBase = seg(4).base
                let cr = segBase + 24 * 10
                cpus[qemuIndex].cr0 = u64(d, cr)
                cpus[qemuIndex].cr2 = u64(d, cr + 16)
                cpus[qemuIndex].cr3 = u64(d, cr + 24)
                cpus[qemuIndex].cr4 = u64(d, cr + 32)
                // Later QEMUs append kernel_gs_base (the note's size says so).
                if d.count >= 440 && u32(d, 4) >= 440 { cpus[qemuIndex].kernelGsBase = u64(d, 432) }
                cpus[qemuIndex].source += " + QEMU CPU state"
            } else if n.name == "Xen" && n.type == xenCrashRegs {
                defer { lastWasPrstatus = false }
                guard lastWasPrstatus, let i = cpus.indices.last else {
                    diagnostics.append(InputError(file: file, offset: n.fileOffset, "Xen CRASH_REGS note not after an NT_PRSTATUS; ignored"))
                    continue
                }
                guard n.descriptor.count >= 32 else {
                    diagnostics.append(InputError(file: file, offset: n.fileOffset, "Xen CRASH_REGS note has \(n.descriptor.count) bytes, needs 32; ignored"))
                    continue
                }
                cpus[i].cr0 = u64(n.descriptor, 0)
                cpus[i].cr2 = u64(n.descriptor, 8)
                cpus[i].cr3 = u64(n.descriptor, 16)
                cpus[i].cr4 = u64(n.descriptor, 24)
                cpus[i].source += " + Xen CRASH_REGS"
            } else {
                lastWasPrstatus = false
            }
        }
        return cpus
    }

    /// The `pr_pid` of each NT_PRSTATUS note (QEMU: CPU index + 1).
    public static func prstatusPids(_ notes: [DumpNote]) -> [Int32] {
        notes.filter { $0.name == "CORE" && $0.type == prstatus && $0.descriptor.count >= 36 }
            .map { Int32(bitPattern: u32($0.descriptor, prPidOffset)) }
    }

    @inline(__always) static func u32(_ b: [UInt8], _ o: Int) -> UInt32 { b.withByteView { $0.uint32LE(at: o) } }
    @inline(__always) static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { b.withByteView { $0.uint64LE(at: o) } }
}

/// Splits a raw block of ELF notes (as found in a PT_NOTE segment, an SHT_NOTE
/// section or kdump's note area) into ``DumpNote``s. Stops at the first
/// malformed header and reports it, keeping the notes before it.
public enum NoteBlock {
    /// The notes in `bytes` (which start at `fileOffset` in `file`); a malformed header ends
    /// the walk with a diagnostic at its offset, keeping the notes read so far.
    public static func parse(_ bytes: some ByteViewSource, fileOffset: Int, file: String, diagnostics: inout [InputError]) -> [DumpNote] {
        let bytes = bytes.byteView
        var notes = [DumpNote]()
        var c = ByteCursor(bytes, baseOffset: fileOffset)
        while c.remaining >= 12 {
            let at = c.offset
            let namesz = Int(c.readUInt32()!), descsz = Int(c.readUInt32()!), type = c.readUInt32()!
            if namesz == 0 && descsz == 0 && type == 0 { break }   // zero padding at the end
            let nameLen = (namesz + 3) & ~3, descLen = (descsz + 3) & ~3
            guard namesz <= c.remaining, nameLen <= c.remaining, descLen <= c.remaining - nameLen else {
                diagnostics.append(InputError(file: file, offset: at,
                    "note header says name \(namesz) + descriptor \(descsz) bytes but only \(c.remaining) remain; later notes ignored"))
                break
            }
            let name = bytes.subview(c.position..<(c.position + namesz)).cString(at: 0)
            _ = c.skip(nameLen)
            let desc = [UInt8](bytes.subview(c.position..<(c.position + descsz)))
            _ = c.skip(min(descLen, c.remaining))
            notes.append(DumpNote(name: name, type: type, descriptor: desc, fileOffset: at))
        }
        return notes
    }
}

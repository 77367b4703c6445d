import BinaryIO

/// x86-64 general registers as saved in a core file's `NT_PRSTATUS`
/// (`struct user_regs_struct`, 27 words, in that order).
public struct X86_64Registers: Sendable, Equatable {
    public var r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8: UInt64
    public var rax, rcx, rdx, rsi, rdi, origRax, rip, cs, eflags, rsp, ss: UInt64
    public var fsBase, gsBase, ds, es, fs, gs: UInt64

    /// Number of 8-byte words in `user_regs_struct`.
    public static let wordCount = 27

    /// Builds the registers from the 27 words of `user_regs_struct`.
    public init(words w: [UInt64]) {
        precondition(w.count >= Self.wordCount)
        (r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8) = (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9])
        (rax, rcx, rdx, rsi, rdi, origRax, rip, cs, eflags, rsp, ss) = (w[10], w[11], w[12], w[13], w[14], w[15], w[16], w[17], w[18], w[19], w[20])
        (fsBase, gsBase, ds, es, fs, gs) = (w[21], w[22], w[23], w[24], w[25], w[26])
    }

    /// The 17 registers in x86-64 DWARF numbering (0 rax, 1 rdx, 2 rcx, 3 rbx,
    /// 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8–15 r8–r15, 16 return address = rip),
    /// the order unwinders take them in.
    public var dwarfRegisters: [UInt64] {
        [rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15, rip]
    }
}

/// One thread (task, or vCPU in a QEMU dump) of a core file: an `NT_PRSTATUS` note.
public struct CoreThread: Sendable, Equatable {
    /// `pr_pid` (for QEMU dumps: CPU index + 1, not a Linux PID).
    public var pid: Int32
    /// `pr_cursig`: the signal that stopped the thread (0 if none).
    public var signal: Int16
    public var registers: X86_64Registers
    /// File offset of the note header, for error messages.
    public var noteOffset: Int
}

/// A core file (ELF `ET_CORE`) seen as x86-64 threads plus a virtual memory
/// image made of its PT_LOAD segments.
///
/// This is the minimal reader the unwinder needs; dump readers (QEMU, kdump)
/// grow from it. Memory beyond a segment's file size but inside its memory
/// size reads as zeros, as the loader would have made it.
public final class ElfCore: Sendable {
    /// The underlying ELF file.
    public let elf: ELFFile
    /// Threads from the `NT_PRSTATUS` notes, in note order.
    public let threads: [CoreThread]
    /// PT_LOAD segments sorted by virtual address.
    public let loads: [ProgramHeader]
    /// Problems that did not stop reading (bad notes), each naming file and offset.
    public let diagnostics: [InputError]

    /// Offset of `pr_reg` inside x86-64 `struct elf_prstatus`.
    static let prRegOffset = 112
    /// Offset of `pr_pid` inside x86-64 `struct elf_prstatus`.
    static let prPidOffset = 32
    /// Offset of `pr_cursig`.
    static let prCursigOffset = 12

    /// Opens and parses the core at `path`.
    public convenience init(path: String) throws {
        try self.init(elf: try ELFFile(path: path))
    }

    /// Interprets an already parsed ELF file as a core.
    public init(elf: ELFFile) throws {
        self.elf = elf
        guard elf.header.type == ELFHeader.typeCore else {
            throw InputError(file: elf.name, offset: 16, "not a core file (e_type \(elf.header.type), expected 4 ET_CORE)")
        }
        guard elf.header.machine == ELFHeader.machineX86_64 else {
            throw InputError(file: elf.name, offset: 18, "core for machine \(elf.header.machine) is not supported (only x86-64, 62)")
        }
        var threads = [CoreThread]()
        var problems = elf.diagnostics
        let need = Self.prRegOffset + X86_64Registers.wordCount * 8
        for n in elf.notes where n.name == "CORE" && n.type == ELFNote.prstatus {
            guard n.descriptorSize >= need, let d = try? elf.noteDescriptor(n) else {
                problems.append(InputError(file: elf.name, offset: n.offset, "NT_PRSTATUS descriptor has \(n.descriptorSize) bytes, x86-64 needs \(need); thread skipped"))
                continue
            }
            let t: CoreThread = d.withByteView { b in
                let words = (0..<X86_64Registers.wordCount).map { b.uint64LE(at: Self.prRegOffset + 8 * $0) }
                return CoreThread(pid: Int32(bitPattern: b.uint32LE(at: Self.prPidOffset)),
                                  signal: Int16(bitPattern: b.uint16LE(at: Self.prCursigOffset)),
                                  registers: X86_64Registers(words: words), noteOffset: n.offset)
            }
            threads.append(t)
        }
        self.threads = threads
        loads = elf.programHeaders.filter { $0.type == ProgramHeader.typeLoad && $0.memorySize > 0 }
            .sorted { $0.virtualAddress < $1.virtualAddress }
        diagnostics = problems
    }

    /// The PT_LOAD segment containing virtual `address`, if any.
    public func segment(containing address: UInt64) -> ProgramHeader? {
        var lo = 0, hi = loads.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if loads[mid].virtualAddress <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let s = loads[lo - 1]
        return address - s.virtualAddress < s.memorySize ? s : nil
    }

    /// Reads `count` bytes of memory at virtual `address`; nil if any byte is
    /// not in the dump (a fault, not an I/O error). May span segments.
    public func read(address: UInt64, count: Int) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(count)
        var a = address
        while out.count < count {
            guard let s = segment(containing: a) else { return nil }
            let inSeg = a - s.virtualAddress
            let take = min(UInt64(count - out.count), s.memorySize - inSeg)
            if inSeg < s.fileSize {
                let fromFile = min(take, s.fileSize - inSeg)
                // A hostile p_offset near 2^64 must not wrap (fuzz finding).
                let (at, wrapped) = s.offset.addingReportingOverflow(inSeg)
                guard !wrapped, let b = try? elf.bytes(offset: at, count: fromFile) else { return nil }
                out += b
                if take > fromFile { out += repeatElement(0, count: Int(take - fromFile)) }
            } else {
                out += repeatElement(0, count: Int(take))
            }
            let (next, overflow) = a.addingReportingOverflow(take)
            if overflow && out.count < count { return nil }
            a = next
        }
        return out
    }

    /// Reads a little-endian 64-bit word at virtual `address`, without allocating
    /// when the word lies inside one segment's file bytes.
    public func readWord(at address: UInt64) -> UInt64? {
        if let s = segment(containing: address), address - s.virtualAddress <= s.fileSize &- 8, s.fileSize >= 8 {
            let (at, wrapped) = s.offset.addingReportingOverflow(address - s.virtualAddress)
            if wrapped { return nil }
            return try? elf.withBytes(offset: at, count: 8) { $0.byteView.uint64LE(at: 0) }
        }
        guard let b = read(address: address, count: 8) else { return nil }
        return b.withByteView { $0.uint64LE(at: 0) }
    }
}

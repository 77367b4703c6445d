import BinaryIO
import ELF

/// An ELF `ET_CORE` dump whose PT_LOAD segments carry physical addresses:
/// QEMU `dump-guest-memory` (with or without paging), a Linux `/proc/vmcore`,
/// and a Xen hypervisor kdump vmcore (host machine memory, per-pCPU
/// NT_PRSTATUS + Xen CRASH_REGS notes, CRASH_INFO, VMCOREINFO_XEN).
///
/// Pages are served straight from the memory-mapped file. Segments are
/// indexed by `p_paddr`; when several cover the same page (QEMU's paging
/// dumps write one segment per virtual mapping) the first in address order
/// wins — they hold the same bytes.
public final class ElfCoreDump: Dump {
    public let path: String
    public let format: DumpFormat = .elfCore
    public let architecture: Architecture
    public let pageSize = 4096
    public let cpus: [CPUState]
    public let notes: [DumpNote]
    public let diagnostics: [InputError]
    public let physicalRanges: [Range<UInt64>]
    /// The parsed ELF file.
    public let elf: ELFFile
    /// `pr_pid` of each CPU's NT_PRSTATUS (QEMU: index + 1; Xen: pCPU id).
    public let prstatusPids: [Int32]

    /// A non-overlapping piece of physical memory backed by the file.
    private struct Segment {
        var start: UInt64
        /// End of the bytes the file holds.
        var fileEnd: UInt64
        /// End of the segment's memory (past fileEnd: zeros, or cut off).
        var memEnd: UInt64
        var offset: UInt64
        /// The file ended inside this segment: bytes past fileEnd are missing, not zero.
        var truncated: Bool
        var index: Int
    }
    private let segments: [Segment]
    private let zeroPage: [UInt8]

    public convenience init(path: String) throws {
        try self.init(elf: ELFFile(path: path))
    }

    public init(elf: ELFFile) throws {
        self.elf = elf
        path = elf.name
        guard elf.header.type == ELFHeader.typeCore else {
            throw InputError(file: path, offset: 16, "not a core dump (e_type \(elf.header.type), expected 4 ET_CORE)")
        }
        switch elf.header.machine {
        case ELFHeader.machineX86_64: architecture = .x86_64
        case 3: architecture = .i386
        case AArch64Registers.elfMachine: architecture = .aarch64
        default: throw InputError(file: path, offset: 18, "dump of machine type \(elf.header.machine) is not supported (x86-64 and aarch64 only)")
        }
        var problems = elf.diagnostics
        var notes = [DumpNote]()
        for n in elf.notes {
            do {
                notes.append(DumpNote(name: n.name, type: n.type, descriptor: try elf.noteDescriptor(n), fileOffset: n.offset))
            } catch let e as InputError {
                problems.append(e)
            }
        }
        self.notes = notes
        let fileSize = UInt64(elf.count)
        var segs = [Segment]()
        for (i, p) in elf.programHeaders.enumerated() where p.type == ProgramHeader.typeLoad && p.memorySize > 0 {
            var fileBytes = min(p.fileSize, p.memorySize)
            var truncated = false
            if p.offset > fileSize || fileBytes > fileSize - p.offset {
                let have = p.offset > fileSize ? 0 : fileSize - p.offset
                // Where the bytes run out; a p_offset past the end is the
                // program header's own fault: name that entry.
                let entry = elf.header.programHeaderOffset &+ UInt64(i) &* UInt64(elf.header.programHeaderEntrySize)
                problems.append(InputError(file: path, offset: Int(clamping: p.offset > fileSize ? entry : p.offset &+ have),
                    "PT_LOAD #\(i) needs \(fileBytes) bytes at file offset 0x\(String(p.offset, radix: 16)) but the file ends after \(have) of them (truncated dump): physical 0x\(String(p.physicalAddress &+ have, radix: 16))-0x\(String(p.physicalAddress &+ fileBytes, radix: 16)) is missing"))
                fileBytes = have
                truncated = true
            }
            let (end, o) = p.physicalAddress.addingReportingOverflow(p.memorySize)
            guard !o else { problems.append(InputError(file: path, "PT_LOAD #\(i) wraps the address space; ignored")); continue }
            segs.append(Segment(start: p.physicalAddress, fileEnd: p.physicalAddress + fileBytes, memEnd: end,
                                offset: p.offset, truncated: truncated, index: i))
        }
        segs.sort { $0.start < $1.start }
        // Clip overlaps (QEMU paging dumps map one physical page many times;
        // every copy holds the same bytes).
        var clipped = [Segment]()
        clipped.reserveCapacity(segs.count)
        var covered: UInt64 = 0
        for var s in segs {
            if !clipped.isEmpty && s.start < covered {
                guard s.memEnd > covered else { continue }
                let cut = covered - s.start
                s.offset &+= cut
                s.start = covered
                s.fileEnd = max(s.fileEnd, covered)
            }
            covered = s.memEnd
            clipped.append(s)
        }
        segments = clipped
        var ranges = [Range<UInt64>]()
        for s in clipped {
            if let last = ranges.last, s.start <= last.upperBound {
                ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, s.memEnd)
            } else {
                ranges.append(s.start..<s.memEnd)
            }
        }
        physicalRanges = ranges
        prstatusPids = CPUNotes.prstatusPids(notes)
        cpus = CPUNotes.cpus(from: notes, file: path, architecture: architecture, diagnostics: &problems)
        diagnostics = problems
        zeroPage = [UInt8](repeating: 0, count: 4096)
    }

    public func withPage<R>(_ pfn: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard pfn < 1 << 52 else { throw DumpReadError.notInDump(address: pfn &<< 12) }
        let a = pfn << 12
        // Last segment starting at or before a; earlier ones may still cover it
        // when segments overlap, so step back while they start before.
        var lo = 0, hi = segments.count
        while lo < hi { let m = (lo + hi) / 2; if segments[m].start <= a { lo = m + 1 } else { hi = m } }
        guard lo > 0 else { throw DumpReadError.notInDump(address: a) }
        let s = segments[lo - 1]
        guard a < s.memEnd else { throw DumpReadError.notInDump(address: a) }
        if a + 4096 <= s.fileEnd {
            do {
                return try elf.withBytes(offset: s.offset &+ (a - s.start), count: 4096, body)
            } catch let e as InputError {
                throw DumpReadError.corrupt(e)
            }
        }
        if s.truncated {
            throw DumpReadError.corrupt(InputError(file: path, offset: Int(clamping: s.offset &+ (a - s.start)),
                "physical page 0x\(String(a, radix: 16)) (PT_LOAD #\(s.index)) lies beyond the end of the truncated file"))
        }
        // Past the file data (p_filesz < p_memsz) the segment is zero-filled;
        // a page that also runs past p_memsz reads as zeros too.
        if a >= s.fileEnd { return try zeroPage.withUnsafeBytes(body) }
        // A page half in the file, half zero-filled: gather it.
        var page = zeroPage
        let have = Int(s.fileEnd - a)
        do {
            try elf.withBytes(offset: s.offset &+ (a - s.start), count: UInt64(have)) { b in
                page.withUnsafeMutableBytes { $0.copyMemory(from: b) }
            }
        } catch let e as InputError {
            throw DumpReadError.corrupt(e)
        }
        return try page.withUnsafeBytes(body)
    }
}

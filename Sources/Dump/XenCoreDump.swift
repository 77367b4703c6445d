import BinaryIO
import ELF

/// A Xen `xl dump-core` file (libxc "xc_core" format): an ELF64 `ET_CORE`
/// with section headers only. Pages live in `.xen_pages`; page *i* belongs to
/// the pfn in entry *i* of `.xen_p2m` (PV: {pfn, gmfn}) or `.xen_pfn`
/// (HVM/PVH: pfn); `.xen_prstatus` holds one `vcpu_guest_context` per vCPU.
/// Layouts: ``XenLayouts``.
///
/// Physical addresses here are the guest's pseudo-physical ones. For a PV
/// guest, page tables hold machine frames: ``machineToPhysical(_:)`` maps
/// them through the p2m, and ``isPV`` tells the page walker to use it.
public final class XenCoreDump: Dump {
    public let path: String
    public let format: DumpFormat = .xenCore
    public let architecture: Architecture
    public let pageSize: Int
    public let cpus: [CPUState]
    public let notes: [DumpNote]
    public let diagnostics: [InputError]
    public let physicalRanges: [Range<UInt64>]
    public let elf: ELFFile
    /// True for a paravirtualised guest (`xch_magic` 0xF00FEBED, `.xen_p2m`).
    public let isPV: Bool
    /// From the DUMPCORE_HEADER note.
    public let headerVCPUs: Int, headerPages: Int
    /// Xen version from DUMPCORE_XEN_VERSION ("4.17.3"), if present.
    public let xenVersion: String?
    /// vCPU online flags (VGCF_online) per context.
    public let vcpuOnline: [Bool]

    private let pagesOffset: UInt64
    private let pageCount: Int
    /// (pfn, page index) sorted by pfn; the file is ascending, but a bad file
    /// must not break lookups.
    private let byPFN: [(pfn: UInt64, index: Int)]
    /// (mfn, pfn) sorted by mfn, PV only.
    private let m2p: [(mfn: UInt64, pfn: UInt64)]

    /// True when `elf` has the `.note.Xen` section of an xc_core file.
    public static func recognises(_ elf: ELFFile) -> Bool {
        elf.header.type == ELFHeader.typeCore && elf.section(named: XenLayouts.sectionNoteXen) != nil
    }

    public convenience init(path: String) throws { try self.init(elf: ELFFile(path: path)) }

    public init(elf: ELFFile) throws {
        self.elf = elf
        path = elf.name
        var problems = elf.diagnostics
        guard elf.header.type == ELFHeader.typeCore else {
            throw InputError(file: path, offset: 16, "not a core dump (e_type \(elf.header.type))")
        }
        switch elf.header.machine {
        case ELFHeader.machineX86_64: architecture = .x86_64
        case 3: architecture = .i386
        default: throw InputError(file: path, offset: 18, "xc_core dump for machine \(elf.header.machine) is not supported (x86 only)")
        }
        // Notes.
        var notes = [DumpNote]()
        for n in elf.notes {
            if let d = try? elf.noteDescriptor(n) { notes.append(DumpNote(name: n.name, type: n.type, descriptor: d, fileOffset: n.offset)) }
        }
        self.notes = notes
        guard let header = notes.first(where: { $0.name == XenLayouts.noteName && $0.type == XenLayouts.dumpcoreHeader }),
              header.descriptor.count >= 32 else {
            throw InputError(file: path, offset: Int(clamping: elf.section(named: XenLayouts.sectionNoteXen)?.offset ?? 0),
                             "xc_core dump has no DUMPCORE_HEADER note (type 0x2000001) in .note.Xen")
        }
        let magic = CPUNotes.u64(header.descriptor, 0)
        headerVCPUs = Int(clamping: CPUNotes.u64(header.descriptor, 8))
        headerPages = Int(clamping: CPUNotes.u64(header.descriptor, 16))
        let ps = CPUNotes.u64(header.descriptor, 24)
        guard magic == XenLayouts.magicPV || magic == XenLayouts.magicHVM else {
            throw InputError(file: path, offset: header.fileOffset, "xc_core header magic 0x\(String(magic, radix: 16)) is neither PV (0xf00febed) nor HVM (0xf00febee)")
        }
        guard ps == 4096 else { throw InputError(file: path, offset: header.fileOffset, "xc_core page size \(ps) is not supported (4096 only)") }
        pageSize = 4096
        isPV = magic == XenLayouts.magicPV
        let pv = isPV
        if let v = notes.first(where: { $0.name == XenLayouts.noteName && $0.type == XenLayouts.dumpcoreXenVersion }), v.descriptor.count >= 32 {
            let extra = String(decoding: v.descriptor[16..<32].prefix { $0 != 0 }, as: UTF8.self)
            xenVersion = "\(CPUNotes.u64(v.descriptor, 0)).\(CPUNotes.u64(v.descriptor, 8))\(extra)"
        } else {
            xenVersion = nil
        }
        // Pages and their index.
        guard let pages = elf.section(named: XenLayouts.sectionPages) else {
            throw InputError(file: path, "xc_core dump has no .xen_pages section")
        }
        pagesOffset = pages.offset
        let indexName = isPV ? XenLayouts.sectionP2M : XenLayouts.sectionPFN
        guard let index = elf.section(named: indexName) else {
            throw InputError(file: path, "xc_core \(isPV ? "PV" : "HVM") dump has no \(indexName) section")
        }
        let stride = isPV ? 16 : 8
        var count = Int(clamping: index.size / UInt64(stride))
        if count != headerPages {
            problems.append(InputError(file: path, offset: Int(clamping: index.offset), "\(indexName) has \(count) entries but the header says \(headerPages) pages; using the smaller"))
            count = min(count, headerPages)
        }
        let fileSize = UInt64(elf.count)
        let pagesInFile = pages.offset >= fileSize ? 0 : Int((fileSize - pages.offset) / 4096)
        if pagesInFile < count {
            problems.append(InputError(file: path, offset: Int(clamping: pages.offset &+ UInt64(pagesInFile) &* 4096),
                "file ends after \(pagesInFile) of \(count) pages of .xen_pages (truncated dump); later pages read as not in dump"))
        }
        var pfns = [UInt64](), m2p = [(mfn: UInt64, pfn: UInt64)]()
        // Entries present in the file (counts come from the file: never trust them for sizes).
        let bytesThere = index.offset >= fileSize ? 0 : fileSize - index.offset
        let indexAvailable = Int(min(UInt64(count), bytesThere / UInt64(stride)))
        pfns.reserveCapacity(indexAvailable)
        if indexAvailable < count {
            problems.append(InputError(file: path, offset: Int(clamping: index.offset &+ UInt64(indexAvailable) &* UInt64(stride)),
                "\(indexName) is cut off after \(indexAvailable) of \(count) entries (truncated dump); pages without an entry cannot be placed and read as not in dump"))
        }
        if indexAvailable > 0 { try elf.withBytes(offset: index.offset, count: UInt64(indexAvailable * stride)) { b in
            for i in 0..<indexAvailable {
                let pfn = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i * stride, as: UInt64.self))
                pfns.append(pfn)
                if pv { m2p.append((UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i * stride + 8, as: UInt64.self)), pfn)) }
            }
        } }
        // Keep only the pages the file still has; drop ~0 entries; check order.
        let usable = min(pfns.count, pagesInFile)
        pfns = Array(pfns.prefix(usable))
        while let last = pfns.last, last == XenLayouts.invalidPFN { pfns.removeLast() }
        if zip(pfns, pfns.dropFirst()).contains(where: { $0 >= $1 }) {
            problems.append(InputError(file: path, offset: Int(clamping: index.offset), "\(indexName) is not in ascending pfn order; lookups use a sorted copy"))
        }
        pageCount = pfns.count
        byPFN = pfns.enumerated().map { ($0.element, $0.offset) }.sorted { ($0.pfn, $0.index) < ($1.pfn, $1.index) }
        self.m2p = m2p.prefix(usable).filter { $0.pfn != XenLayouts.invalidPFN }.sorted { $0.mfn < $1.mfn }
        var ranges = [Range<UInt64>]()
        // x86 physical addresses have at most 52 bits: a pfn from 2^40 up is
        // no address (and ~0 is "unused"); (2^52 - 1 + 1) << 12 also wrapped
        // to 0 and trapped in the Range (found by the xc_core fuzzer).
        for p in pfns.sorted() where p < 1 << 40 {
            if let l = ranges.last, l.upperBound > p << 12 { continue }   // a pfn listed twice (the first copy is used)
            if let l = ranges.last, l.upperBound == p << 12 { ranges[ranges.count - 1] = l.lowerBound..<((p + 1) << 12) }
            else { ranges.append((p << 12)..<((p + 1) << 12)) }
        }
        physicalRanges = ranges
        // vCPU contexts.
        var cpus = [CPUState](), online = [Bool]()
        if let pr = elf.section(named: XenLayouts.sectionPrstatus) {
            let size = pr.entrySize == 0 ? UInt64(XenLayouts.vcpuContextSize) : pr.entrySize
            if architecture != .x86_64 {
                problems.append(InputError(file: path, offset: Int(clamping: pr.offset), "32-bit PV guest contexts are not decoded; no vCPU registers"))
            } else if size < UInt64(XenLayouts.vcpuContextSize) {
                problems.append(InputError(file: path, offset: Int(clamping: pr.offset), ".xen_prstatus entry size \(size) is smaller than vcpu_guest_context (\(XenLayouts.vcpuContextSize)); no vCPU registers"))
            } else {
                let n = Int(pr.size / size)
                for i in 0..<n {
                    do {
                        let c = try elf.bytes(offset: pr.offset &+ UInt64(i) &* size, count: UInt64(XenLayouts.vcpuContextSize))
                        let (cpu, isOnline) = Self.decodeContext(c, index: i, pv: isPV)
                        cpus.append(cpu)
                        online.append(isOnline)
                    } catch let e as InputError {
                        problems.append(e)
                        break
                    }
                }
            }
        } else {
            problems.append(InputError(file: path, "xc_core dump has no .xen_prstatus section; no vCPU registers"))
        }
        self.cpus = cpus
        vcpuOnline = online
        diagnostics = problems
    }

    /// Decodes one x86-64 `vcpu_guest_context`.
    static func decodeContext(_ c: [UInt8], index: Int, pv: Bool) -> (CPUState, Bool) {
        func q(_ o: Int) -> UInt64 { CPUNotes.u64(c, o) }
        let u = XenLayouts.vcpuUserRegs
        var s = CPUState(index: index)
        (s.r15, s.r14, s.r13, s.r12, s.rbp, s.rbx) = (q(u), q(u + 8), q(u + 16), q(u + 24), q(u + 32), q(u + 40))
        (s.r11, s.r10, s.r9, s.r8, s.rax, s.rcx) = (q(u + 48), q(u + 56), q(u + 64), q(u + 72), q(u + 80), q(u + 88))
        (s.rdx, s.rsi, s.rdi) = (q(u + 96), q(u + 104), q(u + 112))
        s.rip = q(u + XenLayouts.userRegsRip)
        s.cs = q(u + XenLayouts.userRegsCS) & 0xffff
        s.rflags = q(u + XenLayouts.userRegsRflags)
        s.rsp = q(u + XenLayouts.userRegsRsp)
        s.ss = q(u + XenLayouts.userRegsSS) & 0xffff
        s.es = q(u + XenLayouts.userRegsES) & 0xffff
        s.ds = q(u + XenLayouts.userRegsDS) & 0xffff
        s.fs = q(u + XenLayouts.userRegsFS) & 0xffff
        s.gs = q(u + XenLayouts.userRegsGS) & 0xffff
        let cr = XenLayouts.vcpuCtrlreg
        (s.cr0, s.cr2, s.cr3, s.cr4) = (q(cr), q(cr + 16), q(cr + 24), q(cr + 32))
        s.fsBase = q(XenLayouts.vcpuFSBase)
        let flags = q(XenLayouts.vcpuFlags)
        if pv {
            // PV: gs_base_kernel / gs_base_user; the active one depends on mode.
            let kernel = q(XenLayouts.vcpuGSBaseKernel), user = q(XenLayouts.vcpuGSBaseUser)
            s.gsBase = flags & XenLayouts.vgcfInKernel != 0 ? kernel : user
            s.kernelGsBase = kernel
            // A 64-bit PV guest always runs with paging in long mode.
            if s.cr0 == 0 { s.cr0 = 0x8000_0001 }
        } else {
            s.gsBase = q(XenLayouts.vcpuGSBaseKernel)
        }
        s.source = "xc_core vcpu_guest_context"
        return (s, flags & XenLayouts.vgcfOnline != 0)
    }

    /// Index of the page holding `pfn` in `.xen_pages`.
    private func pageIndex(_ pfn: UInt64) -> Int? {
        var lo = 0, hi = byPFN.count
        while lo < hi { let m = (lo + hi) / 2; if byPFN[m].pfn < pfn { lo = m + 1 } else { hi = m } }
        return lo < byPFN.count && byPFN[lo].pfn == pfn ? byPFN[lo].index : nil
    }

    public func withPage<R>(_ pfn: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let i = pageIndex(pfn) else { throw DumpReadError.notInDump(address: pfn &<< 12) }
        do {
            return try elf.withBytes(offset: pagesOffset &+ UInt64(i) &* 4096, count: 4096, body)
        } catch let e as InputError {
            throw DumpReadError.corrupt(e)
        }
    }

    public func machineToPhysical(_ mfn: UInt64) -> UInt64? {
        guard isPV else { return mfn }
        var lo = 0, hi = m2p.count
        while lo < hi { let m = (lo + hi) / 2; if m2p[m].mfn < mfn { lo = m + 1 } else { hi = m } }
        return lo < m2p.count && m2p[lo].mfn == mfn ? m2p[lo].pfn : nil
    }
}

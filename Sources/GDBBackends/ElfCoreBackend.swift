import BinaryIO
import ELF
import GDBRemote

/// A read-only target made of an ELF core file (a Linux process core from
/// `gcore` or the kernel): threads from `NT_PRSTATUS` (+ `NT_PRFPREG` for x87
/// and SSE, `NT_X86_XSTATE` for the upper YMM halves), memory from the `PT_LOAD` segments by virtual address, and the
/// auxiliary vector (`NT_AUXV`) so gdb can relocate a PIE and find libraries.
public final class ElfCoreBackend: Backend {
    public let core: ElfCore
    public let capabilities: BackendCapabilities = []
    public let layout: X86RegisterLayout
    public let auxv: [UInt8]?
    /// FXSAVE image per thread (index as in `core.threads`), when the core has one.
    private let fxsave: [[UInt8]?]
    /// XSAVE image per thread whose XCR0 enables AVX.
    private let xsave: [XSaveArea?]

    /// `NT_PRFPREG` (owner "CORE"): the FXSAVE area of one thread.
    static let ntPRFPREG: UInt32 = 2
    /// `NT_AUXV` (owner "CORE").
    static let ntAUXV: UInt32 = 6
    /// `NT_PRPSINFO` (owner "CORE"): present in process cores only.
    static let ntPRPSINFO: UInt32 = 3
    /// `NT_X86_XSTATE` (owner "LINUX"): the thread's XSAVE area in the
    /// standard format, XCR0 in the software-reserved bytes at 464.
    static let ntX86XState: UInt32 = 0x202

    /// Opens a core file; throws an ``InputError`` naming the file when it is
    /// not an x86-64 core or has no threads.
    public convenience init(path: String) throws {
        try self.init(core: ElfCore(path: path))
    }

    public init(core: ElfCore) throws {
        self.core = core
        guard !core.threads.isEmpty else {
            throw InputError(file: core.elf.name, "core has no NT_PRSTATUS notes: no threads to show")
        }
        let notes = core.elf.notes
        // Each thread's notes follow its NT_PRSTATUS: the FXSAVE note between
        // one PRSTATUS and the next belongs to the earlier one.
        var fx: [[UInt8]?] = []
        for (i, t) in core.threads.enumerated() {
            let end = i + 1 < core.threads.count ? core.threads[i + 1].noteOffset : Int.max
            let note = notes.first { $0.name == "CORE" && $0.type == Self.ntPRFPREG && $0.offset > t.noteOffset && $0.offset < end }
            if let note, note.descriptorSize >= 512, let d = try? core.elf.noteDescriptor(note) { fx.append(d) } else { fx.append(nil) }
        }
        fxsave = fx
        var xs: [XSaveArea?] = []
        for (i, t) in core.threads.enumerated() {
            let end = i + 1 < core.threads.count ? core.threads[i + 1].noteOffset : Int.max
            let note = notes.first { $0.name == "LINUX" && $0.type == Self.ntX86XState && $0.offset > t.noteOffset && $0.offset < end }
            guard let note, let d = try? core.elf.noteDescriptor(note), d.count >= 472,
                  d[464..<472].reversed().reduce(UInt64(0), { $0 << 8 | UInt64($1) }) & XSaveArea.ymmBit != 0,
                  let area = try? XSaveArea(d, source: "\(core.elf.name): NT_X86_XSTATE of thread \(i + 1)") else { xs.append(nil); continue }
            xs.append(area)
        }
        xsave = xs
        if let a = notes.first(where: { $0.name == "CORE" && $0.type == Self.ntAUXV }) {
            auxv = try? core.elf.noteDescriptor(a)
        } else {
            auxv = nil
        }
        let isProcess = notes.contains { $0.name == "CORE" && $0.type == Self.ntPRPSINFO } || auxv != nil
        var features: Set<X86Feature> = []
        if fx.contains(where: { $0 != nil }) { features.insert(.sse) }
        if features.contains(.sse), xs.contains(where: { $0 != nil }) { features.insert(.avx) }
        if isProcess { features.insert(.linux) }
        layout = X86RegisterLayout(features: features, osabi: isProcess ? "GNU/Linux" : nil)
    }

    public func threads() -> [ThreadDescriptor] {
        core.threads.enumerated().map { i, t in
            ThreadDescriptor(id: i + 1, name: "LWP \(t.pid)", extraInfo: "LWP \(t.pid)" + (t.signal != 0 ? ", signal \(t.signal)" : ""))
        }
    }

    /// The first thread is the one that received the fatal signal.
    public func stopEvent() -> StopEvent {
        StopEvent(signal: UInt8(truncatingIfNeeded: max(0, Int(core.threads[0].signal))), thread: 1)
    }

    public func registers(thread: Int) throws(BackendError) -> X86RegisterValues {
        guard thread >= 1, thread <= core.threads.count else { throw .noThread(thread) }
        let r = core.threads[thread - 1].registers
        var v = X86RegisterValues()
        let gprs: [(X86Register, UInt64)] = [
            (.rax, r.rax), (.rbx, r.rbx), (.rcx, r.rcx), (.rdx, r.rdx), (.rsi, r.rsi), (.rdi, r.rdi),
            (.rbp, r.rbp), (.rsp, r.rsp), (.r8, r.r8), (.r9, r.r9), (.r10, r.r10), (.r11, r.r11),
            (.r12, r.r12), (.r13, r.r13), (.r14, r.r14), (.r15, r.r15), (.rip, r.rip), (.eflags, r.eflags),
            (.cs, r.cs), (.ss, r.ss), (.ds, r.ds), (.es, r.es), (.fs, r.fs), (.gs, r.gs),
            (.origRax, r.origRax), (.fsBase, r.fsBase), (.gsBase, r.gsBase),
        ]
        for (reg, value) in gprs { v[reg] = value }
        if let fx = fxsave[thread - 1] { v.setFXSAVE(fx) }
        if layout.number(of: .ymm0h) != nil, let x = xsave[thread - 1] { v.setYMMUpper(from: x) }
        return v
    }

    /// Copies from the mapped file segment by segment; bytes a segment has in
    /// memory but not in the file read as zeros. No allocation.
    public func readMemory(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer, thread: Int, space: AddressSpace) -> Int {
        guard space == .virtual else { return 0 }
        var done = 0
        while done < buffer.count {
            let (a, overflow) = address.addingReportingOverflow(UInt64(done))
            guard !overflow, let s = core.segment(containing: a) else { break }
            let inSeg = a - s.virtualAddress
            let take = Int(min(UInt64(buffer.count - done), s.memorySize - inSeg))
            var fromFile = 0
            if inSeg < s.fileSize {
                fromFile = Int(min(UInt64(take), s.fileSize - inSeg))
                let ok: Bool = (try? core.elf.withBytes(offset: s.offset + inSeg, count: UInt64(fromFile)) { src in
                    UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + fromFile]).copyMemory(from: src)
                    return true
                }) ?? false
                if !ok { break }   // segment points past the end of a truncated file
            }
            if take > fromFile {
                UnsafeMutableRawBufferPointer(rebasing: buffer[(done + fromFile)..<(done + take)]).initializeMemory(as: UInt8.self, repeating: 0)
            }
            done += take
        }
        return done
    }
}

import BinaryIO

/// makedumpfile's kdump-compressed format ("KDUMP   ", or "DISKDUMP" for the
/// old diskdump), plain or flattened.
///
/// Layout (makedumpfile `diskdump_mod.h`, restated), in blocks of
/// `block_size` bytes:
/// - block 0: `disk_dump_header` — signature[8] @0, header_version i32 @8,
///   utsname 6×65 @12, timeval @408, status u32 @424, block_size i32 @428,
///   sub_hdr_size i32 @432 (blocks), bitmap_blocks u32 @436, max_mapnr u32
///   @440, total_ram_blocks @444, device_blocks @448, written_blocks @452,
///   current_cpu u32 @456, nr_cpus i32 @460.
/// - block 1: `kdump_sub_header` — phys_base @0, dump_level i32 @8, split @12,
///   start_pfn @16, end_pfn @24 (v2), offset_vmcoreinfo @32, size_vmcoreinfo
///   @40 (v3), offset_note @48, size_note @56 (v4), offset_eraseinfo @64,
///   size_eraseinfo @72 (v5), start_pfn_64 @80, end_pfn_64 @88, max_mapnr_64
///   @96 (v6).
/// - then `bitmap_blocks` blocks: two bitmaps of equal size, the first for
///   pages that exist, the second for pages that were dumped;
/// - then page descriptors {i64 offset, u32 size, u32 flags, u64 page_flags},
///   the k-th for the k-th set bit of the second bitmap; flags 0x1 zlib,
///   0x2 lzo, 0x4 snappy, 0x20 zstd, none = stored raw (``PageCodec``).
///
/// Page lookup is O(1): a prefix-popcount per 64-bit bitmap word gives the
/// descriptor index of any pfn.
public final class KdumpCompressedDump: Dump {
    public let path: String
    public let format: DumpFormat
    public let architecture: Architecture
    public let pageSize: Int
    public let cpus: [CPUState]
    public let notes: [DumpNote]
    public private(set) var diagnostics: [InputError]
    public let physicalRanges: [Range<UInt64>]
    /// Header fields worth showing.
    public let headerVersion: Int32
    public let status: UInt32
    public let maxMapnr: UInt64
    public let currentCPU: Int
    public let utsname: [String]
    public let physBase: UInt64

    private let view: FileView
    private let dumpedBitmap: [UInt64]
    private let rank: [UInt32]
    private let descriptorsOffset: UInt64
    /// Decompressed pages, direct-mapped by pfn: page-table walks touch the
    /// same few table pages over and over, and decompressing one costs ~20 µs.
    private static let cacheSlots = 64
    private var cachePFNs = [UInt64](repeating: .max, count: KdumpCompressedDump.cacheSlots)
    /// Made on the first page read: opening a dump (or failing to) costs no
    /// 64 pages of zeroed memory.
    private var cache = [UInt8]()

    static let descriptorSize = 24
    /// Descriptor flags: the page's compression (none set: stored raw).
    public static let flagZlib: UInt32 = 0x1, flagLZO: UInt32 = 0x2, flagSnappy: UInt32 = 0x4, flagZstd: UInt32 = 0x20
    public static let statusIncomplete: UInt32 = 0x8

    /// True when `file` starts like a kdump-compressed dump (plain or flattened).
    static func recognises(_ file: MappedFile) -> Bool {
        if FileView.isFlattened(file) { return true }
        return file.count >= 8 && file.withBytes { b in
            let sig = Array(b[0..<8])
            return sig == Array("KDUMP   ".utf8) || sig == Array("DISKDUMP".utf8)
        }
    }

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        path = file.path
        view = try FileView(file: file)
        format = view.isFlattened ? .kdumpFlattened : .kdumpCompressed
        var problems = view.diagnostics
        // Header.
        let h: [UInt8] = try view.withBytes(offset: 0, count: 464) { Array($0) }
        func i32(_ b: [UInt8], _ o: Int) -> Int32 { b.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: Int32.self)) } }
        func u64(_ b: [UInt8], _ o: Int) -> UInt64 { b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) } }
        let sig = String(decoding: h[0..<8], as: UTF8.self)
        guard sig == "KDUMP   " || sig == "DISKDUMP" else {
            throw InputError(file: path, offset: view.isFlattened ? FileView.flatHeaderSize + 16 : 0, "not a kdump-compressed dump (signature \(sig.debugDescription))")
        }
        headerVersion = i32(h, 8)
        utsname = (0..<6).map { i in String(decoding: h[(12 + 65 * i)..<(12 + 65 * i + 65)].prefix { $0 != 0 }, as: UTF8.self) }
        status = UInt32(bitPattern: i32(h, 424))
        let blockSize = Int(i32(h, 428))
        let subHeaderBlocks = Int(i32(h, 432))
        let bitmapBlocks = UInt64(UInt32(bitPattern: i32(h, 436)))
        var maxMapnr = UInt64(UInt32(bitPattern: i32(h, 440)))
        currentCPU = Int(i32(h, 456))
        guard blockSize >= 1024, blockSize <= 1 << 16, blockSize & (blockSize - 1) == 0 else {
            throw InputError(file: path, offset: 428, "block_size \(blockSize) is not a power of two between 1 KiB and 64 KiB")
        }
        guard subHeaderBlocks >= 0, subHeaderBlocks < 1 << 20, bitmapBlocks > 0, bitmapBlocks % 2 == 0, bitmapBlocks < 1 << 32 else {
            throw InputError(file: path, offset: 432, "sub_hdr_size \(subHeaderBlocks) / bitmap_blocks \(bitmapBlocks) make no sense")
        }
        pageSize = blockSize
        if status & Self.statusIncomplete != 0 {
            problems.append(InputError(file: path, offset: 424, "header status says the dump is incomplete (the writer ran out of space); missing pages read as not in dump"))
        }
        // Sub-header (version ≥ 1 has phys_base; notes from v4; 64-bit counts from v6).
        var notes = [DumpNote]()
        var physBase: UInt64 = 0
        if subHeaderBlocks > 0 {
            do {
                let s: [UInt8] = try view.withBytes(offset: UInt64(blockSize), count: 104) { Array($0) }
                physBase = u64(s, 0)
                if headerVersion >= 6, u64(s, 96) != 0 { maxMapnr = u64(s, 96) }
                if headerVersion >= 4 {
                    let off = u64(s, 48), size = u64(s, 56)
                    if size > 0 {
                        if size > 1 << 24 {
                            problems.append(InputError(file: path, offset: blockSize + 56, "note area of \(size) bytes is implausible; notes ignored"))
                        } else {
                            do {
                                notes = try view.withBytes(offset: off, count: Int(size)) { b in
                                    NoteBlock.parse(b, fileOffset: Int(clamping: off), file: file.path, diagnostics: &problems)
                                }
                            } catch let e as InputError { problems.append(e) }
                        }
                    }
                }
                if headerVersion >= 3, notes.first(where: { $0.name == "VMCOREINFO" }) == nil {
                    let off = u64(s, 32), size = u64(s, 40)
                    if size > 0 && size < 1 << 20, let text = try? view.withBytes(offset: off, count: Int(size), { Array($0) }) {
                        notes.append(DumpNote(name: "VMCOREINFO", type: 0, descriptor: text, fileOffset: Int(clamping: off)))
                    }
                }
            } catch let e as InputError {
                problems.append(e)
            }
        }
        self.physBase = physBase
        self.notes = notes
        // Bitmaps: second half = dumped pages.
        let bitmapBytes = bitmapBlocks * UInt64(blockSize)
        let half = bitmapBytes / 2
        let bitmapStart = UInt64(1 + subHeaderBlocks) * UInt64(blockSize)
        if maxMapnr > half * 8 {
            problems.append(InputError(file: path, offset: headerVersion >= 6 && subHeaderBlocks > 0 ? blockSize + 96 : 440,
                "max_mapnr \(maxMapnr) needs more bitmap than bitmap_blocks \(bitmapBlocks) holds; pages past pfn \(half * 8) read as not in dump"))
            maxMapnr = half * 8
        }
        self.maxMapnr = maxMapnr
        let wordsNeeded = Int((maxMapnr + 63) / 64)
        // The array is made inside the read, once the file is known to hold
        // the bitmap: max_mapnr and bitmap_blocks are the file's words, not
        // sizes to allocate. Without the bitmap no page can be located, but
        // the notes and CPU registers before it are still good.
        var words: [UInt64]
        do {
            words = try view.withBytes(offset: bitmapStart + half, count: wordsNeeded * 8) { b in
                (0..<wordsNeeded).map { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
            }
        } catch let e as InputError {
            // A bitmap past the end of the file: name the end, where the bytes run out.
            problems.append(InputError(file: path, offset: e.offset.map { min($0, file.count) },
                "dumped-page bitmap (\(wordsNeeded * 8) bytes at logical offset \(bitmapStart + half) for max_mapnr \(maxMapnr)) unreadable: \(e.message); no pages can be located"))
            words = []
        }
        if maxMapnr % 64 != 0, !words.isEmpty { words[words.count - 1] &= (1 << (maxMapnr % 64)) - 1 }
        var rank = [UInt32](repeating: 0, count: words.count + 1)
        for i in words.indices { rank[i + 1] = rank[i] &+ UInt32(words[i].nonzeroBitCount) }
        dumpedBitmap = words
        self.rank = rank
        descriptorsOffset = bitmapStart + bitmapBytes
        // Covered ranges: runs of dumped pages, found a run edge at a time
        // (trailing-zero counts), not bit by bit.
        var ranges = [Range<UInt64>]()
        var runStart: UInt64? = nil
        let bs = UInt64(blockSize)
        for (wi, w) in words.enumerated() {
            // Bits where the run state flips: set bits while outside a run, clear ones inside.
            var edges = runStart == nil ? w : ~w
            while edges != 0 {
                let bit = UInt64(edges.trailingZeroBitCount)
                let pfn = UInt64(wi) * 64 + bit
                if let s = runStart {
                    ranges.append((s * bs)..<(pfn * bs))
                    runStart = nil
                    edges = w & ~((2 << bit) &- 1)        // next set bit above
                } else {
                    runStart = pfn
                    edges = ~w & ~((2 << bit) &- 1)       // next clear bit above
                }
            }
        }
        if let s = runStart { ranges.append((s * bs)..<(UInt64(words.count * 64) * bs)) }
        physicalRanges = ranges
        // utsname.machine names the architecture when the writer fills it
        // (makedumpfile); QEMU 7.2 writes "Unknown" for arm64 guests, whose
        // NT_PRSTATUS is then told apart by size (aarch64 392 bytes, x86-64 336).
        let prstatusSize = notes.first { $0.name == "CORE" && $0.type == CPUNotes.prstatus }?.descriptor.count
        architecture = utsname[4] == "aarch64" || (utsname[4] != "x86_64" && prstatusSize == 392) ? .aarch64 : .x86_64
        cpus = CPUNotes.cpus(from: notes, file: path, architecture: architecture, diagnostics: &problems)
        diagnostics = problems
    }

    /// Number of pages the dump holds.
    public var dumpedPageCount: Int { Int(rank.last ?? 0) }

    /// True when page `pfn` was dumped.
    public func isDumped(_ pfn: UInt64) -> Bool {
        let w = Int(pfn / 64)
        return w < dumpedBitmap.count && dumpedBitmap[w] & (1 << (pfn % 64)) != 0
    }

    /// Where page `pfn` is stored: file offset, stored size and codec (nil: stored raw).
    public func storage(ofPage pfn: UInt64) throws -> (offset: UInt64, size: Int, codec: PageCodec?) {
        guard pfn < UInt64.max / UInt64(pageSize), isDumped(pfn) else {
            throw DumpReadError.notInDump(address: pfn &* UInt64(pageSize))
        }
        let (offset, size, flags) = try descriptor(pfn)
        let compressed = flags & (Self.flagZlib | Self.flagLZO | Self.flagSnappy | Self.flagZstd) != 0
        return (UInt64(offset), Int(size), compressed ? PageCodec(flags: flags) : nil)
    }

    /// The checked page descriptor of a dumped page: offset, size, flags.
    private func descriptor(_ pfn: UInt64) throws -> (Int64, UInt32, UInt32) {
        let w = Int(pfn / 64)
        let index = UInt64(rank[w]) + UInt64((dumpedBitmap[w] & ((1 << (pfn % 64)) - 1)).nonzeroBitCount)
        let dOff = descriptorsOffset + index * UInt64(Self.descriptorSize)
        let (offset, size, flags): (Int64, UInt32, UInt32)
        do {
            (offset, size, flags) = try view.withBytes(offset: dOff, count: 16) { b in
                (Int64(littleEndian: b.loadUnaligned(as: Int64.self)),
                 UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
                 UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
            }
        } catch let e as InputError {
            throw DumpReadError.corrupt(InputError(file: path, offset: e.offset ?? Int(clamping: dOff), "page descriptor of pfn \(pfn) unreadable: \(e.message)"))
        }
        guard offset >= 0, size > 0, size <= UInt32(pageSize) * 2 else {
            throw DumpReadError.corrupt(InputError(file: path, offset: Int(clamping: dOff), "page descriptor of pfn \(pfn) has offset \(offset), size \(size)"))
        }
        return (offset, size, flags)
    }

    public func withPage<R>(_ pfn: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let slot = Int(pfn % UInt64(Self.cacheSlots))
        let ps = pageSize
        if cachePFNs[slot] == pfn {
            return try cache.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[(slot * ps)..<(slot * ps + ps)])) }
        }
        guard pfn < UInt64.max / UInt64(pageSize), isDumped(pfn) else {
            throw DumpReadError.notInDump(address: pfn &* UInt64(pageSize))
        }
        let (offset, size, flags) = try descriptor(pfn)
        if cache.isEmpty { cache = [UInt8](repeating: 0, count: ps * Self.cacheSlots) }
        cachePFNs[slot] = .max
        do {
            try view.withBytes(offset: UInt64(offset), count: Int(size)) { src in
                if flags & (Self.flagZlib | Self.flagLZO | Self.flagSnappy | Self.flagZstd) != 0 {
                    let codec = PageCodec(flags: flags)
                    let result = cache.withUnsafeMutableBytes { dst in
                        codec.decompress(src, into: UnsafeMutableRawBufferPointer(rebasing: dst[(slot * ps)..<(slot * ps + ps)]))
                    }
                    switch result {
                    case .ok(let n) where n == ps: break
                    case .ok(let n):
                        throw InputError(file: path, offset: Int(offset), "\(codec.name) page of pfn \(pfn) (\(size) bytes at offset \(offset)) decompresses to \(n) bytes, expected \(ps)")
                    case .failed(let why):
                        throw InputError(file: path, offset: Int(offset), "\(codec.name) page of pfn \(pfn) (\(size) bytes at offset \(offset)) does not decompress: \(why)")
                    }
                } else {
                    guard src.count == ps else {
                        throw InputError(file: path, offset: Int(offset), "raw page of pfn \(pfn) has \(src.count) bytes, expected \(ps)")
                    }
                    cache.withUnsafeMutableBytes { dst in (dst.baseAddress! + slot * ps).copyMemory(from: src.baseAddress!, byteCount: ps) }
                }
            }
        } catch let e as InputError {
            // The file view's own errors (truncation) do not know the page: say it.
            throw DumpReadError.corrupt(e.message.contains("pfn") ? e
                : InputError(file: path, offset: e.offset ?? Int(offset), "page of pfn \(pfn) (\(size) bytes at offset \(offset)): \(e.message)"))
        }
        cachePFNs[slot] = pfn
        return try cache.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[(slot * ps)..<(slot * ps + ps)])) }
    }
}

import BinaryIO

/// Why a virtual address could not be translated.
public enum TranslationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A paging-structure entry on the way was not present (bit 0 clear).
    /// `level` is 5…1 (PML5, PML4, PDPT, PD, PT); `entry` is its raw value
    /// and `entryAddress` the physical address it was read from.
    case notPresent(virtual: UInt64, level: Int, entryAddress: UInt64, entry: UInt64)
    /// A table page on the way is not in the dump.
    case tableNotInDump(virtual: UInt64, level: Int, tableAddress: UInt64)
    /// The address is not canonical for the paging mode.
    case nonCanonical(virtual: UInt64)
    /// Xen PV: a table or page's machine frame is not in the dump's p2m.
    case machineFrameUnknown(virtual: UInt64, level: Int, mfn: UInt64)
    /// Reading a table failed for another reason (corrupt dump).
    case dumpError(virtual: UInt64, DumpReadError)
    /// An aarch64 walk failed (see ``AArch64PageWalker``).
    case aarch64(AArch64TranslationError)

    public var description: String {
        func h(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        switch self {
        case let .notPresent(v, level, ea, e):
            return "\(h(v)): not mapped (\(PageWalker.levelNames[level]) entry at physical \(h(ea)) is \(h(e)), not present)"
        case let .tableNotInDump(v, level, t):
            return "\(h(v)): the \(PageWalker.levelNames[level]) table at physical \(h(t)) is not in the dump"
        case let .nonCanonical(v):
            return "\(h(v)): not a canonical address"
        case let .machineFrameUnknown(v, level, mfn):
            return "\(h(v)): machine frame \(h(mfn)) (\(PageWalker.levelNames[level]) level) is not in the dump's p2m"
        case let .dumpError(v, e):
            return "\(h(v)): \(e)"
        case let .aarch64(e):
            return e.description
        }
    }
}

/// x86-64 virtual-to-physical translation over a dump, from a CR3 value.
///
/// 4-level and 5-level paging, 1 GiB and 2 MiB pages. Each lookup reads at most
/// five table entries, so garbage or looping tables cannot make it run away.
/// For Xen PV guests (``Dump/machineToPhysical(_:)`` not the identity) the
/// table entries hold machine frame numbers, mapped back through the p2m.
public struct PageWalker {
    public let dump: any Dump
    /// Physical address of the top-level table (CR3 with flag bits cleared).
    public let root: UInt64
    /// 4 or 5.
    public let levels: Int
    /// Whether frames in entries (and CR3) are machine frames (Xen PV).
    public let machineFrames: Bool
    /// Set for aarch64 dumps: translation goes through it instead.
    public let aarch64: AArch64PageWalker?

    static let levelNames = ["", "PT", "PD", "PDPT", "PML4", "PML5"]
    static let frameMask: UInt64 = 0x000f_ffff_ffff_f000

    public init(dump: any Dump, cr3: UInt64, levels: Int = 4, machineFrames: Bool = false) {
        self.dump = dump
        self.root = cr3 & Self.frameMask
        self.levels = levels
        self.machineFrames = machineFrames
        self.aarch64 = nil
    }

    /// An aarch64 walker (4 KiB granule, 48-bit VA); `root`/`levels` then
    /// describe the TTBR1 table.
    public init(dump: any Dump, aarch64: AArch64PageWalker) {
        self.dump = dump
        self.root = aarch64.ttbr1 ?? aarch64.ttbr0 ?? 0
        self.levels = 4
        self.machineFrames = false
        self.aarch64 = aarch64
    }

    /// A walker for the given CPU's page tables (nil when its CR3 is unknown
    /// or paging was off).
    public init?(dump: any Dump, cpu: CPUState, machineFrames: Bool = false) {
        if let a = cpu.aarch64 {
            guard a.ttbr0 != nil || a.ttbr1 != nil else { return nil }
            self.init(dump: dump, aarch64: AArch64PageWalker(ttbr0: a.ttbr0, ttbr1: a.ttbr1))
            return
        }
        guard let cr3 = cpu.cr3, let levels = cpu.pagingLevels, levels >= 4 else { return nil }
        self.init(dump: dump, cr3: cr3, levels: levels, machineFrames: machineFrames)
    }

    /// Translates `virtual` to a physical address.
    public func translate(_ virtual: UInt64) throws(TranslationError) -> UInt64 {
        if let aarch64 {
            do { return try aarch64.translate(virtual, in: dump) } catch { throw .aarch64(error) }
        }
        let topBit = UInt64(levels == 5 ? 56 : 47)
        let upper = virtual >> topBit
        guard upper == 0 || upper == (UInt64.max >> topBit) else { throw .nonCanonical(virtual: virtual) }
        var table = root
        if machineFrames {
            guard let p = dump.machineToPhysical(table >> 12) else { throw .machineFrameUnknown(virtual: virtual, level: levels, mfn: table >> 12) }
            table = p << 12
        }
        var level = levels
        while true {
            let shift = UInt64(12 + 9 * (level - 1))
            let index = (virtual >> shift) & 0x1ff
            let ea = table + index * 8
            let entry: UInt64
            do {
                entry = try dump.readPhysicalWord(ea)
            } catch DumpReadError.notInDump {
                throw .tableNotInDump(virtual: virtual, level: level, tableAddress: table)
            } catch let e as DumpReadError {
                throw .dumpError(virtual: virtual, e)
            } catch {
                throw .dumpError(virtual: virtual, .notInDump(address: ea))
            }
            guard entry & 1 != 0 else { throw .notPresent(virtual: virtual, level: level, entryAddress: ea, entry: entry) }
            var frame = entry & Self.frameMask
            let large = (level == 2 || level == 3) && entry & 0x80 != 0
            if large {
                let pageMask: UInt64 = (1 << shift) - 1
                frame &= ~pageMask
                if machineFrames {
                    guard let p = dump.machineToPhysical(frame >> 12) else { throw .machineFrameUnknown(virtual: virtual, level: level, mfn: frame >> 12) }
                    frame = p << 12
                }
                return frame | (virtual & pageMask)
            }
            if machineFrames {
                guard let p = dump.machineToPhysical(frame >> 12) else { throw .machineFrameUnknown(virtual: virtual, level: level, mfn: frame >> 12) }
                frame = p << 12
            }
            if level == 1 { return frame | (virtual & 0xfff) }
            table = frame
            level -= 1
        }
    }

    /// One present leaf mapping found by ``forEachMapping(_:)``.
    public struct Mapping: Sendable, Equatable {
        public var virtual: UInt64
        public var physical: UInt64
        public var size: UInt64
    }

    /// Visits every present leaf mapping (4 KiB, 2 MiB, 1 GiB) in address
    /// order. A table page that is not in the dump is skipped and counted;
    /// at most `tableLimit` tables are visited, so tables that point back at
    /// themselves cannot make the walk explode. Returns the skipped count.
    @discardableResult
    public func forEachMapping(tableLimit: Int = 1 << 20, _ body: (Mapping) -> Void) -> Int {
        guard aarch64 == nil else { return 1 }   // aarch64: not yet (counted as one skipped table)
        var skipped = 0
        var visited = 0
        func frame(_ f: UInt64) -> UInt64? { machineFrames ? dump.machineToPhysical(f >> 12).map { $0 << 12 } : f }
        func walk(_ table: UInt64, _ level: Int, _ base: UInt64) {
            let shift = UInt64(12 + 9 * (level - 1))
            visited += 1
            guard visited <= tableLimit else { skipped += 1; return }
            do {
                try dump.withPage(table >> 12) { page in
                    for i in 0..<512 {
                        let e = UInt64(littleEndian: page.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
                        guard e & 1 != 0 else { continue }
                        var va = base | (UInt64(i) << shift)
                        if level == levels, i >= 256 { va |= levels == 5 ? 0xfe00_0000_0000_0000 : 0xffff_0000_0000_0000 }
                        let large = (level == 2 || level == 3) && e & 0x80 != 0
                        if level == 1 || large {
                            let mask: UInt64 = (1 << shift) - 1
                            guard let f = frame(e & Self.frameMask & ~mask) else { continue }
                            body(Mapping(virtual: va, physical: f, size: 1 << shift))
                        } else if let f = frame(e & Self.frameMask) {
                            walk(f, level - 1, va)
                        }
                    }
                }
            } catch {
                skipped += 1
            }
        }
        guard let r = frame(root) else { return 1 }
        walk(r, levels, 0)
        return skipped
    }
}

/// Virtual memory of one address space (one CR3) of a dump.
public struct VirtualMemory {
    public let walker: PageWalker
    public var dump: any Dump { walker.dump }

    public init(walker: PageWalker) { self.walker = walker }

    /// Reads `count` bytes at virtual `address`, page by page. Errors name the
    /// first virtual address that could not be read.
    public func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        var a = address
        while out.count < count {
            let take = min(count - out.count, 4096 - Int(a & 0xfff))
            let pa = try walker.translate(a)
            do {
                out += try dump.readPhysical(pa, count: take)
            } catch let e as DumpReadError {
                throw TranslationError.dumpError(virtual: a, e)
            }
            a &+= UInt64(take)
        }
        return out
    }

    /// Reads a little-endian 64-bit word at virtual `address`.
    public func readWord(_ address: UInt64) throws -> UInt64 {
        if address & 0xfff <= 0xff8 {
            let pa = try walker.translate(address)
            do { return try dump.readPhysicalWord(pa) } catch let e as DumpReadError { throw TranslationError.dumpError(virtual: address, e) }
        }
        let b = try read(address, count: 8)
        return b.withByteView { $0.uint64LE(at: 0) }
    }

    /// Reads a NUL-terminated string of at most `limit` bytes.
    public func readCString(_ address: UInt64, limit: Int = 4096) throws -> String {
        var bytes = [UInt8]()
        var a = address
        while bytes.count < limit {
            let chunk = try read(a, count: min(limit - bytes.count, 4096 - Int(a & 0xfff)))
            if let z = chunk.firstIndex(of: 0) { bytes += chunk[..<z]; break }
            bytes += chunk
            a &+= UInt64(chunk.count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

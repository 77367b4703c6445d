/// Why an aarch64 virtual address could not be translated.
public enum AArch64TranslationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A descriptor on the way was invalid (bit 0 clear), or a level-3
    /// descriptor was not a page, or a level-0 descriptor a block (reserved
    /// with a 4 KiB granule). `level` is 0…3.
    case invalidDescriptor(virtual: UInt64, level: Int, descriptorAddress: UInt64, descriptor: UInt64)
    /// The address falls in the hole between the TTBR0 and TTBR1 ranges.
    case outsideRanges(virtual: UInt64)
    /// No translation root is known for the half the address is in.
    case noRoot(virtual: UInt64, register: String)
    /// A table page on the way is not in the dump.
    case tableNotInDump(virtual: UInt64, level: Int, tableAddress: UInt64)

    public var description: String {
        func h(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        switch self {
        case let .invalidDescriptor(v, level, a, d):
            return "\(h(v)): not mapped (level \(level) descriptor at physical \(h(a)) is \(h(d)), \(d & 1 == 0 ? "invalid" : "reserved at this level"))"
        case let .outsideRanges(v):
            return "\(h(v)): outside both the TTBR0 and TTBR1 ranges (48-bit VA)"
        case let .noRoot(v, r):
            return "\(h(v)): \(r) is not known for this dump"
        case let .tableNotInDump(v, level, t):
            return "\(h(v)): the level \(level) table at physical \(h(t)) is not in the dump"
        }
    }
}

/// aarch64 stage-1 translation over a dump: 4 KiB granule, 48-bit VA
/// (T0SZ = T1SZ = 16), four levels 0–3, block descriptors at levels 1
/// (1 GiB) and 2 (2 MiB). Addresses with bits 63:48 all zero go through
/// TTBR0, all one through TTBR1. 16 and 64 KiB granules and 52-bit
/// addresses are not handled yet: QEMU's arm64 dumps carry no TCR to say
/// which is in use, and our test guest uses 4 KiB.
public struct AArch64PageWalker: Sendable {
    /// Physical address of the level-0 table of the lower (user) half.
    public let ttbr0: UInt64?
    /// Physical address of the level-0 table of the upper (kernel) half.
    public let ttbr1: UInt64?

    /// Output-address bits 47:12 of a descriptor.
    static let addressMask: UInt64 = 0x0000_ffff_ffff_f000

    /// `ttbr0`/`ttbr1` as the registers hold them: ASID (63:48) and CnP (bit 0) are dropped.
    public init(ttbr0: UInt64?, ttbr1: UInt64?) {
        self.ttbr0 = ttbr0.map { $0 & Self.addressMask }
        self.ttbr1 = ttbr1.map { $0 & Self.addressMask }
    }

    /// Translates `virtual` to a physical address, reading at most four descriptors.
    public func translate(_ virtual: UInt64, in dump: any Dump) throws(AArch64TranslationError) -> UInt64 {
        let top = virtual >> 48
        let root: UInt64
        if top == 0 {
            guard let ttbr0 else { throw .noRoot(virtual: virtual, register: "TTBR0_EL1") }
            root = ttbr0
        } else if top == 0xffff {
            guard let ttbr1 else { throw .noRoot(virtual: virtual, register: "TTBR1_EL1") }
            root = ttbr1
        } else {
            throw .outsideRanges(virtual: virtual)
        }
        var table = root
        for level in 0...3 {
            let shift = UInt64(39 - 9 * level)
            let ea = table + ((virtual >> shift) & 0x1ff) * 8
            let d: UInt64
            do { d = try dump.readPhysicalWord(ea) } catch {
                throw .tableNotInDump(virtual: virtual, level: level, tableAddress: table)
            }
            guard d & 1 != 0 else { throw .invalidDescriptor(virtual: virtual, level: level, descriptorAddress: ea, descriptor: d) }
            let isTable = d & 2 != 0
            if level == 3 {
                guard isTable else { throw .invalidDescriptor(virtual: virtual, level: level, descriptorAddress: ea, descriptor: d) }
                return (d & Self.addressMask) | (virtual & 0xfff)
            }
            if !isTable {
                guard level >= 1 else { throw .invalidDescriptor(virtual: virtual, level: level, descriptorAddress: ea, descriptor: d) }
                let mask: UInt64 = (1 << shift) - 1
                return (d & Self.addressMask & ~mask) | (virtual & mask)
            }
            table = d & Self.addressMask
        }
        throw .invalidDescriptor(virtual: virtual, level: 3, descriptorAddress: table, descriptor: 0)   // not reached
    }
}

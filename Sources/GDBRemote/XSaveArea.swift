/// An x86 XSAVE image (the extended processor state Xen keeps per vCPU and
/// hands out through `XEN_DOMCTL_getvcpuextstate` and the `CPU_XSAVE` save
/// record): the 512-byte legacy region (FXSAVE layout), the 64-byte header
/// (XSTATE_BV at 512, XCOMP_BV at 520) and the extended components.
///
/// Two formats exist. In the standard one every component sits at its fixed
/// offset; in the compacted one (XCOMP_BV bit 63) only the components listed
/// in XCOMP_BV are stored, packed in component order from 576. Either way a
/// component whose XSTATE_BV bit is clear is in its initial state (all zero
/// for AVX) whatever bytes the area holds there. Only component 2, the upper
/// halves of ymm0–15, is read and written here: it is the first extended
/// component, so it starts at 576 in both formats (when stored at all).
public struct XSaveArea: Sendable, Equatable {
    /// The header's offset and the first extended component's.
    public static let headerOffset = 512, extendedOffset = 576
    /// XSTATE_BV/XCR0 bit of the AVX state (YMM upper halves) and its size.
    public static let ymmBit: UInt64 = 1 << 2, ymmSize = 256
    /// XCOMP_BV bit 63: compacted format.
    public static let compactedBit: UInt64 = 1 << 63

    /// The whole image, as read (and as changed by ``setYMMUpper(_:_:)``).
    public private(set) var bytes: [UInt8]
    /// Names the image in errors (e.g. "vCPU 1's CPU_XSAVE record").
    public let source: String

    /// Checks the header and that the AVX component, where the header says
    /// it is stored, lies inside the image.
    public init(_ bytes: [UInt8], source: String) throws(XSaveError) {
        self.bytes = bytes
        self.source = source
        guard bytes.count >= Self.extendedOffset else {
            throw XSaveError(source: source, offset: bytes.count,
                             problem: "the XSAVE area ends inside its header (\(bytes.count) bytes, the header ends at \(Self.extendedOffset))")
        }
        if isCompacted, xstateBV & ~xcompBV & ~Self.compactedBit != 0 {
            throw XSaveError(source: source, offset: Self.headerOffset,
                             problem: "XSTATE_BV 0x\(String(xstateBV, radix: 16)) names components that the compacted area (XCOMP_BV 0x\(String(xcompBV, radix: 16))) does not hold")
        }
        if xstateBV & Self.ymmBit != 0, bytes.count < Self.extendedOffset + Self.ymmSize {
            throw XSaveError(source: source, offset: bytes.count,
                             problem: "XSTATE_BV has the AVX bit but the area ends at \(bytes.count), inside the YMM component (576–831)")
        }
    }

    private func u64(_ o: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(bytes[o + i]) }
        return v
    }

    /// Components not in their initial state.
    public var xstateBV: UInt64 { u64(Self.headerOffset) }
    /// Components stored (compacted format), with bit 63 set; 0 in the standard format.
    public var xcompBV: UInt64 { u64(Self.headerOffset + 8) }
    public var isCompacted: Bool { xcompBV & Self.compactedBit != 0 }

    /// Whether the image has room for the AVX component.
    public var holdsYMM: Bool {
        (!isCompacted || xcompBV & Self.ymmBit != 0) && bytes.count >= Self.extendedOffset + Self.ymmSize
    }

    /// The upper 128 bits of ymm`i` (16 bytes, little-endian): zero when
    /// XSTATE_BV says the AVX state is in its initial configuration.
    public func ymmUpper(_ i: Int) -> ArraySlice<UInt8> {
        precondition((0..<16).contains(i))
        guard xstateBV & Self.ymmBit != 0 else { return ArraySlice(repeating: 0, count: 16) }
        let o = Self.extendedOffset + 16 * i
        return bytes[o..<o + 16]
    }

    /// Sets the upper half of ymm`i`. When the AVX state was in its initial
    /// configuration, the other fifteen halves become its value (zero) in
    /// the image and XSTATE_BV gets the AVX bit, so a restore loads them.
    public mutating func setYMMUpper(_ i: Int, _ value: some Collection<UInt8>) throws(XSaveError) {
        precondition((0..<16).contains(i) && value.count == 16)
        guard holdsYMM else {
            throw XSaveError(source: source, offset: Self.extendedOffset,
                             problem: "the area has no room for the AVX component (\(bytes.count) bytes, XCOMP_BV 0x\(String(xcompBV, radix: 16)))")
        }
        if xstateBV & Self.ymmBit == 0 {
            bytes.replaceSubrange(Self.extendedOffset..<Self.extendedOffset + Self.ymmSize,
                                  with: repeatElement(0, count: Self.ymmSize))
            let bv = xstateBV | Self.ymmBit
            for k in 0..<8 { bytes[Self.headerOffset + k] = UInt8(truncatingIfNeeded: bv >> (8 * UInt64(k))) }
        }
        let o = Self.extendedOffset + 16 * i
        bytes.replaceSubrange(o..<o + 16, with: value)
    }
}

/// A damaged XSAVE image: which one, where, and what is wrong.
public struct XSaveError: Error, CustomStringConvertible, Equatable {
    public let source: String
    public let offset: Int
    public let problem: String
    public var description: String { "\(source), byte \(offset): \(problem)" }

    public init(source: String, offset: Int, problem: String) {
        self.source = source; self.offset = offset; self.problem = problem
    }
}

extension X86RegisterValues {
    /// Fills ymm0h–ymm15h from an XSAVE image (zeros for an AVX state in
    /// its initial configuration).
    public mutating func setYMMUpper(from area: XSaveArea) {
        for i in 0..<16 { setBytes(.ymmUpper(i), area.ymmUpper(i)) }
    }
}

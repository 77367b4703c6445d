/// A growable byte buffer that output is rendered into. It is reused from
/// record to record (`removeAll(keepingCapacity:)`), so rendering a record
/// does not allocate once the buffer has reached its working size.
public struct ByteSink: Sendable {
    /// The rendered bytes.
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }
    public mutating func reset() { bytes.removeAll(keepingCapacity: true) }
    @inlinable public mutating func append(_ b: UInt8) { bytes.append(b) }
    @inlinable public mutating func append(_ s: [UInt8]) { bytes.append(contentsOf: s) }
    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }
    @inlinable public mutating func append(repeating b: UInt8, count: Int) {
        if count > 0 { for _ in 0..<count { bytes.append(b) } }
    }

    /// Appends `v` in decimal.
    @inlinable public mutating func appendDecimal(_ v: UInt64) {
        if v < 10 { bytes.append(0x30 + UInt8(v)); return }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes of scratch, no heap
        var n = 0
        var x = v
        withUnsafeMutableBytes(of: &tmp) { buf in
            while x > 0 {
                buf[23 - n] = 0x30 + UInt8(x % 10)
                x /= 10
                n += 1
            }
            bytes.append(contentsOf: buf[(24 - n)...])
        }
    }

    /// Appends `v` in decimal with a leading '-' when negative.
    @inlinable public mutating func appendDecimal(_ v: Int64) {
        if v < 0 { bytes.append(0x2d); appendDecimal(v.magnitude) } else { appendDecimal(UInt64(v)) }
    }

    /// Appends `v` in lowercase hex, zero-padded to at least `width` digits.
    @inlinable public mutating func appendHex(_ v: UInt64, width: Int = 1) {
        var digits = 1
        var x = v >> 4
        while x != 0 { digits += 1; x >>= 4 }
        if width > digits { append(repeating: 0x30, count: width - digits) }
        var shift = (digits - 1) * 4
        while shift >= 0 {
            let d = UInt8((v >> UInt64(shift)) & 0xf)
            bytes.append(d < 10 ? 0x30 + d : 0x57 + d)
            shift -= 4
        }
    }
}

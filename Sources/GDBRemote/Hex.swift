/// Hexadecimal helpers for the remote serial protocol. They work on raw
/// bytes (never `String`) so that the memory path allocates nothing.
enum Hex {
    /// Both hex digits of every byte value, as the two bytes of a UInt16 in
    /// memory order (one table load and one 16-bit store per byte on the
    /// memory path).
    static let pairs: [UInt16] = (0..<256).map { b in
        UInt16(digit(UInt8(b >> 4))) | UInt16(digit(UInt8(b & 15))) << 8
    }

    /// Lower-case hex digit for a nibble.
    @inline(__always) static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble
    }

    /// Value of one hex digit, or nil.
    @inline(__always) static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c &- 0x30
        case 0x61...0x66: return c &- 0x57
        case 0x41...0x46: return c &- 0x37
        default: return nil
        }
    }

    /// Parses an unsigned hex number from `bytes[range]` (at most 16 digits).
    static func parse(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty, range.count <= 16 else { return nil }
        var v: UInt64 = 0
        for i in range {
            guard let d = value(bytes[i]) else { return nil }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// Parses a hex number from a byte array slice.
    static func parse<C: Collection>(_ s: C) -> UInt64? where C.Element == UInt8 {
        guard !s.isEmpty, s.count <= 16 else { return nil }
        var v: UInt64 = 0
        for c in s {
            guard let d = value(c) else { return nil }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// Decodes pairs of hex digits into bytes; nil when odd or not hex.
    static func decode<C: Collection>(_ s: C) -> [UInt8]? where C.Element == UInt8 {
        guard s.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(s.count / 2)
        var it = s.makeIterator()
        while let hi = it.next(), let lo = it.next() {
            guard let h = value(hi), let l = value(lo) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }

    /// Hex text of the UTF-8 bytes of `s` (used by qRcmd output, qThreadExtraInfo).
    static func encode(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count * 2)
        for b in s.utf8 {
            out.unicodeScalars.append(Unicode.Scalar(digit(b >> 4)))
            out.unicodeScalars.append(Unicode.Scalar(digit(b & 15)))
        }
        return out
    }

    /// Big-endian hex of a number without leading zeros (thread ids, addresses).
    static func number(_ v: UInt64) -> String { String(v, radix: 16) }
}

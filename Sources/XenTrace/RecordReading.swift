import BinaryIO

extension ExtraWords {
    /// The `count` (0...7) little-endian payload words at `offset` in
    /// `bytes`: one bounds check for all of them, no allocation, so walkers
    /// above XenTrace read a record's payload without touching raw memory.
    @inlinable public init(_ bytes: ByteView, at offset: Int, count: Int) {
        precondition(count >= 0 && count <= 7 && offset >= 0 && offset <= bytes.count - 4 * count,
                     "ExtraWords: \(count) word(s) at offset \(offset) lie outside \(bytes.count) byte(s)")
        self = bytes.withUnsafeBytes { ExtraWords(unchecked: $0, at: offset, count: count) }
    }

    /// As ``init(_:at:count:)`` once the caller has checked the bounds.
    @inlinable @inline(__always)
    init(unchecked b: UnsafeRawBufferPointer, at offset: Int, count: Int) {
        self.init()
        guard count > 0 else { return }
        @inline(__always) func word(_ i: Int) -> UInt32 {
            UInt32(littleEndian: b.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self))
        }
        w0 = word(0)
        if count > 1 { w1 = word(1) }
        if count > 2 { w2 = word(2) }
        if count > 3 { w3 = word(3) }
        if count > 4 { w4 = word(4) }
        if count > 5 { w5 = word(5) }
        if count > 6 { w6 = word(6) }
    }
}

extension TraceRecord {
    /// The record whose header word (`header`, already read) is at `offset`
    /// in `bytes`; the whole record is checked to lie inside `bytes` once.
    /// A record without its own TSC gets `lastTSC`, as every walker fills
    /// it in; `cpu` is the CPU of the window it was found in.
    @inlinable public init(_ bytes: ByteView, at offset: Int, header: UInt32, cpu: UInt32, lastTSC: UInt64) {
        let size = TraceRecord.size(header: header)
        precondition(offset >= 0 && offset <= bytes.count - size,
                     "TraceRecord: \(size) byte(s) at offset \(offset) lie outside \(bytes.count) byte(s)")
        self = bytes.withUnsafeBytes { b in
            var p = offset + 4
            var tsc = lastTSC
            if header & 0x8000_0000 != 0 {
                tsc = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: p, as: UInt64.self))
                p += 8
            }
            let extra = ExtraWords(unchecked: b, at: p, count: Int((header >> 28) & 7))
            return TraceRecord(cpu: cpu, header: header, tsc: tsc, extra: extra, offset: offset)
        }
    }
}

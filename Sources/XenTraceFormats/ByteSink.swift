/// A growable output buffer that records are rendered into. It is reused
/// from record to record (``reset()``), so rendering does not allocate once
/// it has reached its working size. Bytes are stored through a raw pointer
/// because per-byte `Array.append` (uniqueness + capacity checks) and, in a
/// class, dynamic exclusivity checks were the largest costs of decoding to
/// text; every write checks capacity first. Use one value through `inout`:
/// copies share the same memory.
public struct ByteSink: @unchecked Sendable {
    /// Owns the memory so that it is freed with the last copy.
    @usableFromInline final class Owner {
        var pointer: UnsafeMutablePointer<UInt8>
        init(_ p: UnsafeMutablePointer<UInt8>) { pointer = p }
        deinit { pointer.deallocate() }
    }
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    @usableFromInline let owner: Owner
    /// Number of bytes written since the last reset.
    public var count: Int { used }
    @usableFromInline var used: Int = 0

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
        owner = Owner(base)
    }

    /// A copy of the written bytes (allocates; for tests and slow paths).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: used)) }

    /// Calls `body` with the written bytes.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: used))
    }

    /// Empties the buffer, keeping its memory (one sink is reused for every record).
    public mutating func reset() { used = 0 }

    /// Drops everything written after `mark` (a former ``used``).
    public mutating func truncate(to mark: Int) { if mark < used { used = max(0, mark) } }

    /// Removes the byte at `index` (if written), moving the rest down.
    public mutating func remove(at index: Int) {
        guard index >= 0, index < used else { return }
        (base + index).update(from: base + index + 1, count: used - index - 1)
        used -= 1
    }

    @usableFromInline mutating func grow(_ needed: Int) {
        var c = capacity * 2
        while c < used + needed { c *= 2 }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        p.update(from: base, count: used)
        owner.pointer.deallocate()
        owner.pointer = p
        base = p
        capacity = c
    }

    @inlinable @inline(__always) mutating func ensure(_ n: Int) {
        if used + n > capacity { grow(n) }
    }

    /// Appends one byte.
    @inlinable @inline(__always) public mutating func append(_ b: UInt8) {
        ensure(1)
        base[used] = b
        used += 1
    }

    /// Appends the bytes of an array.
    @inlinable public mutating func append(_ s: [UInt8]) {
        s.withUnsafeBufferPointer { append($0) }
    }

    /// Appends the bytes of a buffer.
    @inlinable public mutating func append(_ s: UnsafeBufferPointer<UInt8>) {
        ensure(s.count)
        if let a = s.baseAddress { (base + used).update(from: a, count: s.count) }
        used += s.count
    }

    /// Appends a string's UTF-8 bytes.
    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }

    /// Appends `n` copies of `b` (field padding).
    @inlinable public mutating func append(repeating b: UInt8, count n: Int) {
        guard n > 0 else { return }
        ensure(n)
        (base + used).update(repeating: b, count: n)
        used += n
    }

    /// "00" "01" … "99": two digits per division (this is the hot path of text output).
    @usableFromInline static let pairs: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// Number of decimal digits of `v`.
    @inlinable @inline(__always) static func decimalDigits(_ v: UInt64) -> Int {
        var n = 1
        var x = v
        while x >= 10_000 { x /= 10_000; n += 4 }
        if x >= 100 { n += x >= 1000 ? 3 : 2 } else if x >= 10 { n += 1 }
        return n
    }

    /// Writes `x` (< 10^digits) as exactly `digits` digits ending before `end`, with 32-bit arithmetic.
    @inlinable @inline(__always) func writeDigits(_ x: UInt32, _ digits: Int, endingAt end: Int) {
        let pairs = ByteSink.pairs.utf8Start
        var x = x
        var i = end
        var left = digits
        while left >= 2 {
            let r = Int(x % 100)
            x /= 100
            i -= 2
            base[i] = pairs[2 * r]
            base[i + 1] = pairs[2 * r + 1]
            left -= 2
        }
        if left == 1 { base[i - 1] = 0x30 &+ UInt8(truncatingIfNeeded: x) }
    }

    /// Appends `v` in decimal.
    @inlinable public mutating func appendDecimal(_ v: UInt64) {
        ensure(20)
        putDecimal(v)
    }

    /// Appends `v` in decimal with a leading '-' when negative.
    @inlinable public mutating func appendDecimal(_ v: Int64) {
        ensure(21)
        putDecimal(v)
    }

    /// Appends `v` in lowercase hex, zero-padded to at least `width` digits.
    @inlinable public mutating func appendHex(_ v: UInt64, width: Int = 1) {
        ensure(max(16, width))
        putHex(v, width: width)
    }

    // MARK: unchecked writes (the hot path)
    //
    // A record's line is written with one capacity check (``reserve(_:)``)
    // for its longest possible form, then these, which do not check: per
    // byte checks were the largest single cost of decoding to text.

    /// Makes room for `n` more bytes; the `put` calls after it may write that many.
    @inlinable @inline(__always) mutating func reserve(_ n: Int) { ensure(n) }

    @inlinable @inline(__always) mutating func put(_ b: UInt8) {
        base[used] = b
        used += 1
    }

    /// Two bytes (e.g. "0x").
    @inlinable @inline(__always) mutating func put(_ a: UInt8, _ b: UInt8) {
        base[used] = a
        base[used + 1] = b
        used += 2
    }

    @inlinable @inline(__always) mutating func put(_ s: UnsafeBufferPointer<UInt8>) {
        if let a = s.baseAddress { (base + used).update(from: a, count: s.count) }
        used += s.count
    }

    /// `count` bytes from `src`, for short strings (labels, names): 16 bytes
    /// at a time with unaligned loads and stores instead of a `memmove` call
    /// per label. `src` must be readable, and the sink reserved, 16 bytes
    /// past `count` rounded up to 16 (the caller's pool is padded so).
    @inlinable @inline(__always) mutating func putShort(_ src: UnsafePointer<UInt8>, _ count: Int) {
        let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(base + used)
        var i = 0
        repeat {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: i, as: UInt64.self), toByteOffset: i, as: UInt64.self)
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self), toByteOffset: i + 8, as: UInt64.self)
            i += 16
        } while i < count
        used += count
    }

    /// `v` in decimal: at most 20 bytes.
    @inlinable @inline(__always) mutating func putDecimal(_ v: UInt64) {
        if v < 10 { base[used] = 0x30 &+ UInt8(truncatingIfNeeded: v); used += 1; return }
        let digits = ByteSink.decimalDigits(v)
        let end = used + digits
        if digits <= 8 {
            writeDigits(UInt32(truncatingIfNeeded: v), digits, endingAt: end)
        } else if digits <= 16 {
            // TSCs have 12-16 digits: two 32-bit halves of 8 digits are much cheaper than 64-bit division.
            writeDigits(UInt32(truncatingIfNeeded: v % 100_000_000), 8, endingAt: end)
            writeDigits(UInt32(truncatingIfNeeded: v / 100_000_000), digits - 8, endingAt: end - 8)
        } else {
            let low = v % 100_000_000
            let rest = v / 100_000_000
            writeDigits(UInt32(truncatingIfNeeded: low), 8, endingAt: end)
            writeDigits(UInt32(truncatingIfNeeded: rest % 100_000_000), 8, endingAt: end - 8)
            writeDigits(UInt32(truncatingIfNeeded: rest / 100_000_000), digits - 16, endingAt: end - 16)
        }
        used = end
    }

    /// `v` in decimal with a leading '-' when negative: at most 21 bytes.
    @inlinable @inline(__always) mutating func putDecimal(_ v: Int64) {
        if v < 0 { put(0x2d) }
        putDecimal(v.magnitude)
    }

    /// "0123456789abcdef".
    @usableFromInline static let hexDigits: StaticString = "0123456789abcdef"

    /// `v` in lowercase hex, zero-padded to at least `width` digits: max(16, width) bytes at most.
    @inlinable @inline(__always) mutating func putHex(_ v: UInt64, width: Int = 1) {
        let digits = max(1, (67 - v.leadingZeroBitCount) >> 2)
        let n = max(digits, width)
        let hex = ByteSink.hexDigits.utf8Start
        var i = used + n
        var x = v
        while i > used {
            i -= 1
            base[i] = hex[Int(truncatingIfNeeded: x & 0xf)]
            x >>= 4
        }
        used += n
    }
}

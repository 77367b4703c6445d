/// A growable output buffer that records are rendered into. It is reused
/// from record to record (``reset()``), so rendering does not allocate once
/// it has reached its working size. Bytes are stored through a raw pointer
/// because per-byte `Array.append` (uniqueness + capacity checks) was the
/// largest cost of decoding to text; every write checks capacity first.
public final class ByteSink: @unchecked Sendable {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    /// Number of bytes written since the last reset.
    public var count: Int { used }
    @usableFromInline var used: Int = 0

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// A copy of the written bytes (allocates; for tests and slow paths).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: used)) }

    /// Calls `body` with the written bytes.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: used))
    }

    public func reset() { used = 0 }

    /// Drops everything written after `mark` (a former ``used``).
    public func truncate(to mark: Int) { if mark < used { used = max(0, mark) } }

    /// Removes the byte at `index` (if written), moving the rest down.
    public func remove(at index: Int) {
        guard index >= 0, index < used else { return }
        (base + index).update(from: base + index + 1, count: used - index - 1)
        used -= 1
    }

    @usableFromInline func grow(_ needed: Int) {
        var c = capacity * 2
        while c < used + needed { c *= 2 }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        p.update(from: base, count: used)
        base.deallocate()
        base = p
        capacity = c
    }

    @inlinable @inline(__always) func ensure(_ n: Int) {
        if used + n > capacity { grow(n) }
    }

    @inlinable @inline(__always) public func append(_ b: UInt8) {
        ensure(1)
        base[used] = b
        used += 1
    }

    @inlinable public func append(_ s: [UInt8]) {
        s.withUnsafeBufferPointer { append($0) }
    }

    @inlinable public func append(_ s: UnsafeBufferPointer<UInt8>) {
        ensure(s.count)
        if let a = s.baseAddress { (base + used).update(from: a, count: s.count) }
        used += s.count
    }

    public func append(_ s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }

    @inlinable public func append(repeating b: UInt8, count n: Int) {
        guard n > 0 else { return }
        ensure(n)
        (base + used).update(repeating: b, count: n)
        used += n
    }

    /// Appends `v` in decimal.
    @inlinable public func appendDecimal(_ v: UInt64) {
        ensure(20)
        if v < 10 { base[used] = 0x30 &+ UInt8(truncatingIfNeeded: v); used += 1; return }
        var digits = 0
        var x = v
        while x > 0 { digits += 1; x /= 10 }
        x = v
        var i = used + digits - 1
        while x > 0 {
            base[i] = 0x30 &+ UInt8(truncatingIfNeeded: x % 10)
            x /= 10
            i -= 1
        }
        used += digits
    }

    /// Appends `v` in decimal with a leading '-' when negative.
    @inlinable public func appendDecimal(_ v: Int64) {
        if v < 0 { append(0x2d); appendDecimal(v.magnitude) } else { appendDecimal(UInt64(v)) }
    }

    /// Appends `v` in lowercase hex, zero-padded to at least `width` digits.
    @inlinable public func appendHex(_ v: UInt64, width: Int = 1) {
        var digits = 1
        var x = v >> 4
        while x != 0 { digits += 1; x >>= 4 }
        let n = max(digits, width)
        ensure(n)
        var i = used + n - 1
        x = v
        for _ in 0..<n {
            let d = UInt8(truncatingIfNeeded: x & 0xf)
            base[i] = d < 10 ? 0x30 &+ d : 0x57 &+ d
            x >>= 4
            i -= 1
        }
        used += n
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only view of bytes that someone else owns (a ``MappedFile``, an
/// array's storage), where every read is bounds-checked.
///
/// Readers and analyses above BinaryIO take their input as a `ByteView`
/// instead of a raw pointer, so the pointer code lives here, in one tested
/// place: an offset mistake (or a length taken from hostile input) stops the
/// program at the read instead of reading past the buffer. Each check is one
/// inlined compare, so hot loops keep their speed (docs/performance.md).
///
/// The view does not keep its memory alive: one handed to a closure
/// (``MappedFile/withView(_:)``, ``Swift/Sequence/withByteView(_:)``) is
/// valid inside it; one kept in a reader must not outlive the bytes' owner.
public struct ByteView {
    @usableFromInline let raw: UnsafeRawBufferPointer

    /// A view of `raw`, which the caller keeps valid and unchanged.
    @inlinable public init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    /// An empty view.
    public init() { raw = UnsafeRawBufferPointer(start: nil, count: 0) }

    /// Number of bytes.
    @inlinable public var count: Int { raw.count }

    /// Stops the program unless `size` bytes at `offset` lie inside the view.
    @inlinable @inline(__always) func check(_ offset: Int, _ size: Int) {
        precondition(offset >= 0 && offset <= raw.count &- size, "ByteView: \(size) byte(s) at offset \(offset) lie outside its \(raw.count)")
    }

    // MARK: little-endian integers

    /// The byte at `offset`.
    @inlinable public func uint8(at offset: Int) -> UInt8 { self[offset] }

    /// The little-endian `UInt16` at `offset` (any alignment).
    @inlinable public func uint16LE(at offset: Int) -> UInt16 {
        check(offset, 2)
        return UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// The little-endian `UInt32` at `offset` (any alignment).
    @inlinable public func uint32LE(at offset: Int) -> UInt32 {
        check(offset, 4)
        return UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The little-endian `UInt64` at `offset` (any alignment).
    @inlinable public func uint64LE(at offset: Int) -> UInt64 {
        check(offset, 8)
        return UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    // MARK: ranges

    /// The bytes in `range` as a view of their own (indexed from 0).
    @inlinable @inline(__always) public func subview(_ range: Range<Int>) -> ByteView {
        check(range.lowerBound, range.count)
        return ByteView(UnsafeRawBufferPointer(rebasing: raw[range]))
    }

    /// The NUL-terminated string at `offset` (up to the end when there is no
    /// NUL), as UTF-8 with invalid sequences repaired: names in ELF string
    /// tables and dumps.
    public func cString(at offset: Int) -> String {
        check(offset, 0)
        let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
        let end = rest.firstIndex(of: 0) ?? rest.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: rest[..<end]), as: UTF8.self)
    }

    /// Whether the bytes at `offset` are those of `other` (false when they
    /// would run past the end).
    @inlinable @inline(__always) public func matches(_ other: ByteView, at offset: Int = 0) -> Bool {
        guard offset >= 0, other.count <= raw.count - offset else { return false }
        return other.count == 0 || memcmp(raw.baseAddress! + offset, other.raw.baseAddress!, other.count) == 0
    }

    /// Whether the bytes at `offset` are the UTF-8 of `word` (false when they
    /// would run past the end).
    @inlinable @inline(__always) public func matches(_ word: StaticString, at offset: Int) -> Bool {
        word.withUTF8Buffer { matches(ByteView(UnsafeRawBufferPointer($0)), at: offset) }
    }

    /// Whether the view holds exactly the UTF-8 of `s`.
    @inlinable @inline(__always) public func isUTF8(of s: String) -> Bool {
        var s = s
        return s.withUTF8 { $0.count == raw.count && matches(ByteView(UnsafeRawBufferPointer($0))) }
    }

    /// The first offset at or after `start` whose byte satisfies `stop`, or
    /// `max(start, count)` when there is none: the scanning loops of text
    /// readers (whitespace, string bodies, digits) with one bounds check per
    /// scan instead of one per byte.
    @inlinable public func firstOffset(from start: Int, where stop: (UInt8) throws -> Bool) rethrows -> Int {
        precondition(start >= 0, "ByteView: scan from negative offset \(start)")
        var i = start
        while i < raw.count {
            if try stop(raw.load(fromByteOffset: i, as: UInt8.self)) { return i }
            i += 1
        }
        return i
    }

    /// Whether every byte is below 0x80 (ASCII text).
    @inlinable public var isASCII: Bool {
        for b in raw where b >= 0x80 { return false }
        return true
    }

    /// The bytes as UTF-8 text, invalid sequences repaired (U+FFFD).
    @inlinable public func decodedUTF8() -> String {
        String(decoding: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }

    /// The bytes as UTF-8 text, or nil when they are not valid UTF-8.
    @inlinable public func validatedUTF8() -> String? {
        String(validating: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }

    /// The C library's `strtod` of the bytes in `range` (copied, terminated,
    /// to the stack): the correctly rounded double of a decimal number the
    /// caller has already checked.
    public func strtod(_ range: Range<Int>) -> Double {
        check(range.lowerBound, range.count)
        let n = range.count
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> Double in
            let p = buf.baseAddress!
            if n > 0 { UnsafeMutableRawPointer(p).copyMemory(from: raw.baseAddress! + range.lowerBound, byteCount: n) }
            p[n] = 0
            #if canImport(Glibc)
            return Glibc.strtod(p, nil)
            #else
            return Darwin.strtod(p, nil)
            #endif
        }
    }

    /// The offset of the first `byte` in `range` (memchr: at memory speed),
    /// or nil when there is none.
    public func firstOffset(of byte: UInt8, in range: Range<Int>) -> Int? {
        check(range.lowerBound, range.count)
        guard !range.isEmpty, let hit = memchr(raw.baseAddress! + range.lowerBound, Int32(byte), range.count) else { return nil }
        return raw.baseAddress!.distance(to: UnsafeRawPointer(hit))
    }

    // MARK: output

    /// Writes all the bytes to `fd` (write(2), again after EINTR), stopping
    /// at the first other failure (EPIPE: the reader went away); returns how
    /// many bytes were written.
    @discardableResult
    public func write(to fd: Int32) -> Int {
        var start = 0
        while start < raw.count {
            #if canImport(Glibc)
            let n = Glibc.write(fd, raw.baseAddress! + start, raw.count - start)
            #else
            let n = Darwin.write(fd, raw.baseAddress! + start, raw.count - start)
            #endif
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                break
            }
            start += n
        }
        return start
    }

    /// The view's pointer, for code below the readers (BinaryIO, XenTrace's
    /// record decoding) that has checked its bounds once for many reads.
    /// The buffer must not escape `body`.
    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(raw)
    }
}

extension ByteView: RandomAccessCollection {
    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { raw.count }

    /// The byte at `position`.
    @inlinable public subscript(position: Int) -> UInt8 {
        // One unsigned compare covers both ends (a negative position is huge).
        precondition(UInt(bitPattern: position) < UInt(bitPattern: raw.count), "ByteView: byte \(position) lies outside its \(raw.count)")
        return raw.load(fromByteOffset: position, as: UInt8.self)
    }

    /// The bytes as `UInt8`s in place (string decoding and array appends use it).
    @inlinable public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        try body(raw.assumingMemoryBound(to: UInt8.self))
    }
}

/// Memory the caller keeps valid that can be read as a ``ByteView``: a view,
/// or a raw buffer from `withUnsafeBytes` at the edges (tests, fuzzers).
/// Readers and analyses take `some ByteViewSource`, so they never hold the
/// pointer themselves.
public protocol ByteViewSource {
    /// The bytes as a bounds-checked view.
    var byteView: ByteView { get }
}

extension ByteView: ByteViewSource {
    /// The view itself.
    @inlinable public var byteView: ByteView { self }
}

extension UnsafeRawBufferPointer: ByteViewSource {
    /// A view of the buffer (which the caller keeps valid).
    @inlinable public var byteView: ByteView { ByteView(self) }
}

extension Sequence where Element == UInt8 {
    /// Calls `body` with a view of these bytes: the sequence's own storage
    /// when it is contiguous (arrays, native strings' UTF-8), else a copy.
    /// The view must not escape `body`.
    public func withByteView<R>(_ body: (ByteView) throws -> R) rethrows -> R {
        if let r = try withContiguousStorageIfAvailable({ try body(ByteView(UnsafeRawBufferPointer($0))) }) { return r }
        return try Array(self).withUnsafeBytes { try body(ByteView($0)) }
    }
}

extension MappedFile {
    /// Calls `body` with a bounds-checked view of the whole file. The view
    /// must not escape.
    public func withView<R>(_ body: (ByteView) throws -> R) rethrows -> R {
        try withBytes { try body(ByteView($0)) }
    }
}

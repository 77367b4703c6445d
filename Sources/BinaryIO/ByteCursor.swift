/// A bounds-checked little-endian reader over a byte buffer that knows its
/// absolute position in the input (so errors can name the byte offset).
///
/// The cursor does not own the memory; keep the buffer's owner alive while
/// the cursor is used.
public struct ByteCursor {
    /// The bytes being read.
    public let bytes: UnsafeRawBufferPointer
    /// Absolute input offset of `bytes[0]` (non-zero when reading a window).
    public let baseOffset: Int
    /// Position inside `bytes`.
    public var position: Int

    public init(_ bytes: UnsafeRawBufferPointer, baseOffset: Int = 0, position: Int = 0) {
        self.bytes = bytes
        self.baseOffset = baseOffset
        self.position = position
    }

    /// A cursor over `view`'s bytes (same lifetime rule as the view).
    public init(_ view: ByteView, baseOffset: Int = 0, position: Int = 0) {
        self.init(view.raw, baseOffset: baseOffset, position: position)
    }

    /// Absolute offset of the next byte to read.
    @inlinable public var offset: Int { baseOffset + position }
    /// Bytes left from the current position.
    @inlinable public var remaining: Int { bytes.count - position }
    @inlinable public var isAtEnd: Bool { position >= bytes.count }

    /// Reads a little-endian `UInt32` at `position + delta` without moving.
    @inlinable public func peekUInt32(at delta: Int = 0) -> UInt32? {
        let p = position + delta
        guard p >= 0, p + 4 <= bytes.count else { return nil }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt32.self))
    }

    /// Reads a little-endian `UInt64` at `position + delta` without moving.
    @inlinable public func peekUInt64(at delta: Int = 0) -> UInt64? {
        let p = position + delta
        guard p >= 0, p + 8 <= bytes.count else { return nil }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt64.self))
    }

    /// The next 4 bytes as a little-endian UInt32, advancing; nil (position kept) when fewer remain.
    @inlinable public mutating func readUInt32() -> UInt32? {
        guard let v = peekUInt32() else { return nil }
        position += 4
        return v
    }

    /// The next 8 bytes as a little-endian UInt64, advancing; nil (position kept) when fewer remain.
    @inlinable public mutating func readUInt64() -> UInt64? {
        guard let v = peekUInt64() else { return nil }
        position += 8
        return v
    }

    /// The next 2 bytes as a little-endian UInt16, advancing; nil (position kept) when fewer remain.
    @inlinable public mutating func readUInt16() -> UInt16? {
        guard position + 2 <= bytes.count else { return nil }
        let v = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self))
        position += 2
        return v
    }

    /// The next byte, advancing; nil at the end.
    @inlinable public mutating func readUInt8() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    /// Moves forward by `n` bytes; returns false (and does not move) if that
    /// would pass the end.
    @inlinable public mutating func skip(_ n: Int) -> Bool {
        guard n >= 0, position + n <= bytes.count else { return false }
        position += n
        return true
    }
}

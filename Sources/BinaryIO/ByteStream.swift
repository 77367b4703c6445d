#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A source of bytes read once, front to back: standard input, a pipe, or the
/// output of a decompressor. Readers pull fixed-size chunks from it, so no
/// stream is ever held whole in memory.
public protocol ByteStream: AnyObject {
    /// Name used in error messages (the path, or `-` for standard input).
    var name: String { get }
    /// Fills the start of `buffer` with up to `buffer.count` bytes and returns
    /// how many it wrote; 0 means the end of the stream. Throws an
    /// ``InputError`` naming the file and offset when reading fails.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Reads a file descriptor with `read(2)`: pipes, FIFOs, character devices,
/// and compressed regular files (as the decompressor's input).
///
/// Bytes already consumed to sniff the format (``pushBack(_:)``) are returned
/// first, so detection by magic bytes works on unseekable inputs too.
public final class FileStream: ByteStream {
    public let name: String
    private let fd: Int32
    private let ownsFD: Bool
    private var pending: [UInt8] = []
    private var pendingPos = 0
    /// Bytes handed out so far (for error offsets).
    public private(set) var offset = 0

    /// Wraps `fd`; closes it on deinit when `ownsFD` is true.
    public init(fd: Int32, name: String, ownsFD: Bool) {
        self.fd = fd
        self.name = name
        self.ownsFD = ownsFD
    }

    deinit { if ownsFD { close(fd) } }

    /// Puts `bytes` in front of whatever the descriptor returns next.
    public func pushBack(_ bytes: [UInt8]) {
        pending = bytes + pending[pendingPos...]
        pendingPos = 0
        offset -= bytes.count
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if pendingPos < pending.count {
            let n = min(buffer.count, pending.count - pendingPos)
            pending.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + pendingPos, byteCount: n)
            }
            pendingPos += n
            if pendingPos == pending.count { pending = []; pendingPos = 0 }
            offset += n
            return n
        }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 {
                offset += n
                return n
            }
            if errno == EINTR { continue }
            throw InputError(file: name, offset: offset, "read failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads until `count` bytes or the end of the stream (for magic-byte sniffing).
    public func readUpTo(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = try out.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if n == 0 { break }
            got += n
        }
        out.removeLast(count - got)
        return out
    }
}

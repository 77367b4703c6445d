/// Lines of a stream (standard input), each at most `maxLength` bytes: a
/// line without a newline in sight (`cat /dev/zero |`) must not grow in
/// memory for ever. A longer line comes back as `.tooLong` with its start
/// offset, and the reader skips to the next newline.
public final class LineReader {
    /// One line, without its newline, or the start of an overlong one.
    public enum Line: Equatable {
        case text(String)
        case tooLong(offset: Int)
    }

    private let stream: ByteStream
    private let maxLength: Int
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0, end = 0
    /// Stream offset of `buffer[0]`.
    private var base = 0
    private var atEnd = false

    public init(_ stream: ByteStream, maxLength: Int = 4096) {
        self.stream = stream
        self.maxLength = maxLength
    }

    /// The next line, nil at the end of the stream.
    public func next() throws -> Line? {
        var skipping = false
        var skipStart = 0
        while true {
            if let nl = buffer[start..<end].firstIndex(of: 0x0a) {
                let lineStart = start
                start = nl + 1
                if skipping { return .tooLong(offset: skipStart) }
                if nl - lineStart > maxLength { return .tooLong(offset: base + lineStart) }
                return .text(String(decoding: buffer[lineStart..<nl], as: UTF8.self))
            }
            if end - start > maxLength && !skipping {
                skipping = true
                skipStart = base + start
            }
            if skipping { start = end }
            if atEnd {
                if skipping { return .tooLong(offset: skipStart) }
                if start == end { return nil }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                start = end
                return .text(line)
            }
            // Keep the unread part at the front, then fill the rest.
            if start > 0 {
                buffer.replaceSubrange(0..<(end - start), with: buffer[start..<end])
                base += start
                end -= start
                start = 0
            }
            let n = try buffer.withUnsafeMutableBytes { try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[end...])) }
            if n == 0 { atEnd = true } else { end += n }
        }
    }
}

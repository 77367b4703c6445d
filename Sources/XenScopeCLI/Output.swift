import BinaryIO

/// A buffered writer to a file descriptor. Swift 6 refuses the C `stdout`
/// global (it is mutable shared state), and buffering matters for output of
/// millions of lines.
final class FDWriter {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int

    init(fd: Int32, capacity: Int = 1 << 16) {
        self.fd = fd
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    deinit { flush() }

    func write(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= capacity { flush() }
    }

    func line(_ s: String) { write(s); write("\n") }

    /// Writes `b` at once, after what is buffered (a failed write, as
    /// EPIPE when the reader went away, drops the rest).
    func writeRaw(_ b: some ByteViewSource) {
        flush()
        b.byteView.write(to: fd)
    }

    func writeBytes(_ b: [UInt8]) {
        if buffer.count + b.count > capacity { flush() }
        if b.count >= capacity { buffer = b; flush(); return }
        buffer.append(contentsOf: b)
    }

    func flush() {
        // EPIPE and friends: the reader went away; drop the rest.
        buffer.withByteView { _ = $0.write(to: fd) }
        buffer.removeAll(keepingCapacity: true)
    }

    static func stderrLine(_ s: String) {
        let w = FDWriter(fd: 2)
        w.line(s)
    }
}

/// A problem with an input file, reported as one line (`Error: …`) without
/// the usage text: the arguments were well formed, the file was not.
struct InputFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

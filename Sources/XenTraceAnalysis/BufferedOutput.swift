import Foundation

/// A file written through a large buffer (exports can be millions of lines).
final class BufferedOutput {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    let path: String

    init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ExportError("cannot create \(path)")
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw ExportError("cannot open \(path) for writing") }
        handle = h
        buffer.reserveCapacity(1 << 20)
    }

    @inline(__always) func write(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        if !buffer.isEmpty { handle.write(Data(buffer)); buffer.removeAll(keepingCapacity: true) }
    }

    func close() throws {
        flush()
        try handle.close()
    }
}

/// An export that could not be written.
public struct ExportError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

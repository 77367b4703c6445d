import BinaryIO

/// A xentrace file on disk, memory-mapped (see ``TraceInput`` for pipes,
/// standard input, compressed files and TSC order).
public final class TraceFile: Sendable {
    /// The mapped bytes.
    public let mapping: MappedFile
    /// Path as given.
    public var path: String { mapping.path }

    public init(path: String) throws {
        mapping = try MappedFile(path: path)
    }

    /// Calls `body` for every record in file order. `body` returns false to stop
    /// early. Returns what the scanner noticed about damaged input. Pages
    /// already read are dropped, so resident memory stays bounded.
    @discardableResult
    public func forEachRecord(_ body: (TraceRecord) throws -> Bool) rethrows -> [TraceDiagnostic] {
        try TraceInput.scanMapped(mapping, body)
    }
}

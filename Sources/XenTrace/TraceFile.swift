import BinaryIO

/// A xentrace file on disk, memory-mapped.
public final class TraceFile: Sendable {
    /// The mapped bytes.
    public let mapping: MappedFile
    /// Path as given.
    public var path: String { mapping.path }

    public init(path: String) throws {
        mapping = try MappedFile(path: path)
    }

    /// Calls `body` for every record in file order. `body` returns false to stop
    /// early. Returns what the scanner noticed about damaged input.
    @discardableResult
    public func forEachRecord(_ body: (TraceRecord) throws -> Bool) rethrows -> [TraceDiagnostic] {
        try mapping.withBytes { bytes in
            var scanner = RecordScanner(bytes)
            while let r = scanner.next() {
                if try !body(r) { break }
            }
            return scanner.diagnostics
        }
    }
}

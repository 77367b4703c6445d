/// Something wrong with the input that the reader noticed and worked around.
/// Readers keep going after a diagnostic; they never drop valid records silently.
public struct TraceDiagnostic: Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it is (stable, for tests and JSON).
    public enum Kind: String, Sendable, Equatable {
        case truncatedRecord        // a record is cut by the end of the input
        case windowPastEnd          // a CPU-change size points past the end
        case recordCrossesWindow    // a record does not end at its window's end
        case noCPUChange            // records before the first CPU-change record
        case implausibleCPU         // a CPU number too large to be real
        case tscBackwards           // a CPU's TSC decreased
        case garbage                // bytes skipped while resynchronising
        case ioError                // the input could not be read (or decompressed)
        case emptyInput             // the input has no bytes at all
        case notATrace              // bytes that cannot be a trace; reading stopped there
    }
    public var kind: Kind
    /// Byte offset in the input where the problem starts.
    public var offset: Int
    /// CPU the bytes belong to, when known.
    public var cpu: UInt32?
    public var message: String
    /// The input the problem is in (set by ``TraceInput``; empty when the
    /// scanner was handed bare bytes).
    public var file: String

    public init(_ kind: Kind, offset: Int, cpu: UInt32? = nil, _ message: String, file: String = "") {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.cpu = cpu
        self.message = message
    }

    public var description: String {
        var s = file.isEmpty ? "" : file + ": "
        s += "at byte \(offset) (0x\(String(offset, radix: 16)))"
        if let cpu { s += ", cpu \(cpu)" }
        return s + ": " + message
    }
}

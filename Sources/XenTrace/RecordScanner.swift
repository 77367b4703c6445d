import BinaryIO

/// Walks the records of a xentrace byte buffer in file order.
///
/// The bytes are a sequence of per-CPU windows, each introduced by a
/// TRC_TRACE_CPU_CHANGE record `{cpu, size}` followed by `size` bytes of that
/// CPU's records. The scanner yields every record (the CPU-change records
/// too), fills in the TSC of records that carry none from the last TSC on the
/// same CPU, and reports damage as ``TraceDiagnostic``s instead of stopping,
/// resynchronising at the next plausible CPU-change record after garbage.
/// For files, pipes and compressed inputs use ``TraceInput``, which adds
/// bounded memory and TSC order on top of the same logic.
public struct RecordScanner {
    /// Highest CPU number we believe (Xen's NR_CPUS maximum is 4095).
    public static let maxCPU: UInt32 = 4095
    /// Longest run of garbage searched for a way back into the records: the
    /// largest window the reader accepts (a 65535-page ring) plus its CPU-change record. Past it the input is judged not to
    /// be a trace from where the garbage began (``TraceDiagnostic/Kind/notATrace``)
    /// and reading stops, so an endless or huge non-trace input ends.
    public static let maxGarbageBytes = ScanCore.maxWindowBytes + 12

    private let bytes: UnsafeRawBufferPointer
    private let baseOffset: Int
    private var pos = 0
    private var core: ScanCore

    /// Problems seen so far, in input order.
    public var diagnostics: [TraceDiagnostic] { core.finalDiagnostics() }
    /// Absolute offset of the next byte to be read.
    public var offset: Int { baseOffset + pos }

    /// Scans `bytes`; `baseOffset` is the absolute offset of `bytes[0]`. The
    /// buffer must stay valid while the scanner is used.
    public init(_ bytes: UnsafeRawBufferPointer, baseOffset: Int = 0) {
        self.bytes = bytes
        self.baseOffset = baseOffset
        core = ScanCore(inputSize: baseOffset + bytes.count)
    }

    /// The next record, or nil at the end of the input.
    public mutating func next() -> TraceRecord? {
        if case .record(let r) = core.step(bytes, &pos, base: baseOffset, eof: true) { return r }
        return nil
    }
}

@inline(__always) func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}

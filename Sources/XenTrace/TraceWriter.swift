/// Builds xentrace-format bytes: per-CPU windows, each a TRC_TRACE_CPU_CHANGE
/// record followed by that CPU's records, exactly as `xentrace` lays them out.
public struct TraceWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends one window: a CPU-change record for `cpu` and the given records
    /// (their `cpu` field is ignored).
    public mutating func appendWindow(cpu: UInt32, records: [TraceRecord]) {
        let size = records.reduce(0) { $0 + $1.size }
        appendRecordBytes(TraceRecord(cpu: cpu, event: EventID.cpuChange, tsc: nil, extra: [cpu, UInt32(size)]))
        for r in records { appendRecordBytes(r) }
    }

    /// Appends the on-disk form of one record, with no window header.
    public mutating func appendRecordBytes(_ r: TraceRecord) {
        append32(r.header)
        if r.hasTSC { append32(UInt32(truncatingIfNeeded: r.tsc)); append32(UInt32(truncatingIfNeeded: r.tsc >> 32)) }
        for i in 0..<r.extraCount { append32(r.extra[i]) }
    }

    private mutating func append32(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> shift)) }
    }
}

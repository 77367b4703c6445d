import BinaryIO

/// Walks the records of a xentrace byte stream in file order.
///
/// The stream is a sequence of per-CPU windows, each introduced by a
/// TRC_TRACE_CPU_CHANGE record `{cpu, size}` followed by `size` bytes of that
/// CPU's records. The scanner yields every record (the CPU-change records
/// too), fills in the TSC of records that carry none from the last TSC on the
/// same CPU, and reports damage as ``TraceDiagnostic``s instead of stopping.
public struct RecordScanner {
    /// Highest CPU number we believe (Xen's NR_CPUS maximum is 4095).
    public static let maxCPU: UInt32 = 4095

    private var cursor: ByteCursor
    private var cpu: UInt32 = 0
    private var windowEnd: Int? = nil
    private var lastTSC: [UInt64]
    private var sawCPUChange = false
    /// Problems seen so far, in input order.
    public private(set) var diagnostics: [TraceDiagnostic] = []

    /// Scans `bytes`; `baseOffset` is the absolute offset of `bytes[0]`.
    public init(_ bytes: UnsafeRawBufferPointer, baseOffset: Int = 0) {
        cursor = ByteCursor(bytes, baseOffset: baseOffset)
        lastTSC = [UInt64](repeating: 0, count: Int(RecordScanner.maxCPU) + 1)
    }

    /// The next record, or nil at the end of the input.
    public mutating func next() -> TraceRecord? {
        while true {
            if let end = windowEnd, cursor.position >= end {
                if cursor.position > end {
                    // Only reachable after a record crossed the window end.
                    cursor.position = end
                }
                windowEnd = nil
            }
            guard let header = cursor.peekUInt32() else {
                if cursor.remaining > 0 {
                    diagnostics.append(TraceDiagnostic(.truncatedRecord, offset: cursor.offset, cpu: cpu,
                        "\(cursor.remaining) trailing byte(s), too short for a record header"))
                    cursor.position = cursor.bytes.count
                }
                return nil
            }
            let size = TraceRecord.size(header: header)
            let start = cursor.position
            if size > cursor.remaining {
                diagnostics.append(TraceDiagnostic(.truncatedRecord, offset: cursor.offset, cpu: cpu,
                    "record of \(size) bytes (event 0x\(hex8(header & TraceRecord.eventMask))) cut by the end of the input after \(cursor.remaining) bytes"))
                cursor.position = cursor.bytes.count
                return nil
            }
            if let end = windowEnd, start + size > end {
                diagnostics.append(TraceDiagnostic(.recordCrossesWindow, offset: cursor.offset, cpu: cpu,
                    "record of \(size) bytes crosses the end of its CPU window at byte \(cursor.baseOffset + end); skipping \(end - start) byte(s)"))
                cursor.position = end
                continue
            }
            let event = header & TraceRecord.eventMask
            let count = Int((header >> 28) & 7)
            var p = 4
            var tsc: UInt64
            if header & 0x8000_0000 != 0 {
                tsc = cursor.peekUInt64(at: 4)!
                p = 12
            } else {
                tsc = 0
            }
            var extra = ExtraWords()
            for i in 0..<count { extra[i] = cursor.peekUInt32(at: p + 4 * i)! }
            let offset = cursor.offset
            cursor.position += size

            if event == EventID.cpuChange && count >= 2 && windowEnd == nil {
                let newCPU = extra.w0
                let windowBytes = Int(extra.w1)
                sawCPUChange = true
                if newCPU > RecordScanner.maxCPU {
                    diagnostics.append(TraceDiagnostic(.implausibleCPU, offset: offset, cpu: cpu,
                        "CPU-change record names CPU \(newCPU); treating its window as CPU \(cpu)'s"))
                } else {
                    cpu = newCPU
                }
                let end = cursor.position + windowBytes
                if end > cursor.bytes.count {
                    diagnostics.append(TraceDiagnostic(.windowPastEnd, offset: offset, cpu: cpu,
                        "window of \(windowBytes) bytes ends \(end - cursor.bytes.count) byte(s) past the end of the input"))
                    windowEnd = cursor.bytes.count
                } else {
                    windowEnd = end
                }
            } else if !sawCPUChange && offset == cursor.baseOffset {
                diagnostics.append(TraceDiagnostic(.noCPUChange, offset: offset, cpu: 0,
                    "input does not start with a CPU-change record; assuming CPU 0"))
            }
            let c = Int(cpu)
            if header & 0x8000_0000 != 0 {
                if tsc < lastTSC[c] {
                    diagnostics.append(TraceDiagnostic(.tscBackwards, offset: offset, cpu: cpu,
                        "TSC went backwards by \(lastTSC[c] - tsc) cycles"))
                }
                lastTSC[c] = tsc
            } else {
                tsc = lastTSC[c]
            }
            return TraceRecord(cpu: cpu, header: header, tsc: tsc, extra: extra, offset: offset)
        }
    }
}

@inline(__always) func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}

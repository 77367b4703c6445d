import XenTrace

/// The one place `trace decode` walks a trace's records.
enum TraceRecords {
    /// Calls `body` for each record of `input` in `order`; returns the reader's diagnostics.
    static func forEach(_ input: TraceInput, order: RecordOrder, _ body: (TraceRecord) throws -> Bool) throws -> [TraceDiagnostic] {
        try input.forEachRecord(order: order, body)
    }
}

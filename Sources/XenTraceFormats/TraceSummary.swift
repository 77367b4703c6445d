import XenTrace

/// The few summary lines `xenscope trace decode` prints before the records.
public enum TraceSummary {
    /// Lines (without "# ") describing `info`: CPUs, records, span, lost records.
    public static func header(_ info: TraceInfo, name: String, cpuHz: Double?) -> [String] {
        let cpus = info.cpus.map { String($0.cpu) }
        let first = info.cpus.map(\.firstTSC).filter { $0 != 0 }.min() ?? 0
        let last = info.cpus.map(\.lastTSC).max() ?? 0
        let cycles = last >= first ? last - first : 0
        let hz = cpuHz ?? 2.4e9
        let seconds = Double(cycles) / hz
        let lost = info.cpus.reduce(UInt64(0)) { $0 + $1.lostRecords }
        let lostEvents = info.cpus.reduce(0) { $0 + $1.lostRecordEvents }
        let wraps = info.cpus.reduce(0) { $0 + $1.wrapRecords }
        var secText = String(Int((seconds * 1000).rounded()))
        while secText.count < 4 { secText = "0" + secText }
        secText.insert(".", at: secText.index(secText.endIndex, offsetBy: -3))
        return [
            "\(name): \(info.totalRecords) records on \(info.cpus.count) CPUs (\(cpus.joined(separator: ","))), \(info.cpuChangeRecords) CPU-change blocks",
            "span: timestamps \(first) .. \(last) = \(cycles) counts = \(secText) s at \(cpuHz == nil ? "2.4 GHz (assumed; set --cpu-hz)" : hz >= 1e9 ? "\(hz / 1e9) GHz" : "\(hz / 1e6) MHz")",
            "lost records: \(lost) in \(lostEvents) lost-record events; wrap records: \(wraps)",
        ]
    }
}

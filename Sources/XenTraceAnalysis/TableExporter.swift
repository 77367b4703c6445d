import XenTrace

/// Writes flat tables for SQL engines (DuckDB, Spark, …) into a directory,
/// as CSV with a header line or as JSON Lines:
/// - `records`: every record in TSC order (CPU-change records excluded):
///   offset, cpu, tsc, has_tsc, event, class, n_words, w0…w6, and for
///   runstate records the domain, vCPU and old/new state;
/// - `runstates`: every accounted vCPU runstate interval (dom, vcpu, pcpu,
///   state, start_tsc, end_tsc, cycles) — the `running` rows are the per-vCPU
///   run intervals;
/// - `vmexits`: every timed HVM exit (dom, vcpu, pcpu, reason, name, rip,
///   start_tsc, end_tsc, cycles).
public final class TableExporter: TimelineSink {
    /// CSV files with a header row, or JSON Lines (one object a row, for tools that read NDJSON).
    public enum Format: String, Sendable { case csv, jsonl }
    private let format: Format
    private let records: BufferedOutput, runstates: BufferedOutput, vmexits: BufferedOutput
    public private(set) var recordRows = 0, runstateRows = 0, vmexitRows = 0

    static let recordColumns = ["offset", "cpu", "tsc", "has_tsc", "event", "class", "n_words",
                                "w0", "w1", "w2", "w3", "w4", "w5", "w6", "domain", "vcpu", "old_state", "new_state"]
    static let runstateColumns = ["domain", "vcpu", "pcpu", "state", "start_tsc", "end_tsc", "cycles"]
    static let vmexitColumns = ["domain", "vcpu", "pcpu", "reason", "name", "rip", "start_tsc", "end_tsc", "cycles"]

    /// `clock` goes into `metadata.json` beside the tables: which counter the
    /// `tsc`/`*_tsc` columns are and the rate that makes `cycles` seconds.
    public init(directory: String, format: Format, clock: TraceClock? = nil) throws {
        self.format = format
        if let clock {
            let meta = try BufferedOutput(path: "\(directory)/metadata.json")
            meta.write("{\"schema\":\"xenscope.trace-export/1\",\"generator\":\"xenscope trace export\",\"format\":\"\(format.rawValue)\",\(clock.jsonFields)}\n")
            try meta.close()
        }
        let ext = format.rawValue
        records = try BufferedOutput(path: "\(directory)/records.\(ext)")
        runstates = try BufferedOutput(path: "\(directory)/runstates.\(ext)")
        vmexits = try BufferedOutput(path: "\(directory)/vmexits.\(ext)")
        if format == .csv {
            records.write(Self.recordColumns.joined(separator: ",") + "\n")
            runstates.write(Self.runstateColumns.joined(separator: ",") + "\n")
            vmexits.write(Self.vmexitColumns.joined(separator: ",") + "\n")
        }
    }

    /// Values are numbers or already-quoted strings.
    private func row(_ out: BufferedOutput, _ cols: [String], _ vals: [String]) {
        if format == .csv {
            out.write(vals.map { $0.hasPrefix("\"") || $0 != "null" ? $0 : "" }.joined(separator: ","))
            out.write("\n")
        } else {
            var s = "{"
            for (i, (c, v)) in zip(cols, vals).enumerated() {
                if i > 0 { s += "," }
                s += "\"\(c)\":\(v)"
            }
            out.write(s + "}\n")
        }
    }

    public func begin(firstTSC: UInt64, cpus: [Int]) {}

    public func record(_ r: TraceRecord) {
        var v: [String] = ["\(r.offset)", "\(r.cpu)", "\(r.tsc)", r.hasTSC ? "true" : "false", "\(r.event)",
                           "\"\(TraceClass.of(r.event)?.name ?? "other")\"", "\(r.extraCount)"]
        for i in 0..<7 { v.append(i < r.extraCount ? "\(r.extra[i])" : "null") }
        if (r.event & 0xffff_f00f) == 0x21001 && r.extraCount >= 1 {
            let o = Int((r.event >> 8) & 0xf), n = Int((r.event >> 4) & 0xf)
            v += ["\(r.extra.w0 >> 16)", "\(r.extra.w0 & 0xffff)",
                  o < 4 ? "\"\(Names.runstates[o])\"" : "null", n < 4 ? "\"\(Names.runstates[n])\"" : "null"]
        } else {
            v += ["null", "null", "null", "null"]
        }
        row(records, Self.recordColumns, v)
        recordRows += 1
    }

    public func runstate(dom: Int, vcpu: Int, pcpu: Int, state: Int, start: UInt64, end: UInt64) {
        row(runstates, Self.runstateColumns, ["\(dom)", "\(vcpu)", "\(pcpu)", "\"\(Names.runstates[state])\"", "\(start)", "\(end)", "\(end - start)"])
        runstateRows += 1
    }

    public func vmexit(dom: Int, vcpu: Int, pcpu: Int, reason: Int, name: String, rip: UInt64, start: UInt64, end: UInt64) {
        row(vmexits, Self.vmexitColumns, ["\(dom)", "\(vcpu)", "\(pcpu)", "\(reason)", "\"\(name)\"", "\(rip)", "\(start)", "\(end)", "\(end - start)"])
        vmexitRows += 1
    }

    public func irq(cpu: Int, tsc: UInt64, vector: Int) {}
    public func lost(cpu: Int, tsc: UInt64, firstTSC: UInt64, count: Int) {}
    public func runnable(tsc: UInt64, count: Int) {}

    public func end() throws {
        try records.close(); try runstates.close(); try vmexits.close()
    }
}

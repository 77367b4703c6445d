import ArgumentParser
import XenTrace

/// `xenscope trace info FILE`: the per-CPU table of a trace file.
struct TraceInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Per-CPU summary of a trace file: records, TSC range, bytes, lost and wrap records."
    )

    @Argument(help: "Trace file written by xentrace.")
    var file: String

    func run() throws {
        let trace = try TraceFile(path: file)
        let info = TraceInfo(trace)
        let out = FDWriter(fd: 1)
        out.line("file \(file): \(info.totalRecords) records, \(info.cpus.count) CPUs, \(info.cpuChangeRecords) CPU-change blocks")
        out.line("cpu     records   first_tsc          last_tsc           bytes       lost_recs  lost  wraps")
        for c in info.cpus {
            out.line("\(pad(c.cpu, 3)) \(pad(c.records, 11))   \(pad(c.firstTSC, 18)) \(pad(c.lastTSC, 18)) \(pad(c.bytes, 11)) \(pad(c.lostRecordEvents, 10)) \(pad(c.lostRecords, 5)) \(pad(c.wrapRecords, 6))")
        }
        out.flush()
        for d in info.diagnostics { FDWriter.stderrLine("xenscope: \(file): \(d)") }
        if !info.diagnostics.isEmpty { throw ExitCode(2) }
    }
}

func pad<T: BinaryInteger>(_ v: T, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

import ArgumentParser
import BinaryIO
import XenTrace

extension RecordOrder: ExpressibleByArgument {}

/// `xenscope trace info FILE`: the per-CPU table of a trace file.
struct TraceInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Per-CPU summary of a trace: records, timestamp range, bytes, lost and wrap records.",
        discussion: """
            FILE may be a regular file, '-' (standard input), a pipe, or a gzip/xz/zstd \
            compressed trace (recognised by its magic bytes). Damage is reported on standard \
            error with the file, byte offset and CPU; the exit status is then 2.
            """
    )

    @Argument(help: "Trace written by xentrace ('-' for standard input).")
    var file: String

    @Option(help: "Read order: 'file', or 'tsc' (all CPUs merged by timestamp: TSC on x86, generic timer on arm64). The figures are the same.")
    var order: RecordOrder = .file

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let input = try TraceInput.open(file)
        let info = try TraceInfo(input, order: order)
        let out = FDWriter(fd: 1)
        if json {
            out.line(TraceInfoCommand.json(info, file: file))
        } else {
            out.line("file \(file): \(info.totalRecords) records, \(info.totalBytes) bytes, \(info.cpus.count) CPUs, \(info.cpuChangeRecords) CPU-change blocks, \(info.eventCounts.count) event ids")
            out.line("TSC \(info.firstTSC) .. \(info.lastTSC); lost-record events \(info.lostRecordEvents) (\(info.lostRecords) records lost); wrap records \(info.wrapRecords)")
            out.line("cpu     records   first_tsc          last_tsc           bytes       lost_recs  lost  wraps")
            for c in info.cpus {
                out.line("\(pad(c.cpu, 3)) \(pad(c.records, 11))   \(pad(c.firstTSC, 18)) \(pad(c.lastTSC, 18)) \(pad(c.bytes, 11)) \(pad(c.lostRecordEvents, 10)) \(pad(c.lostRecords, 5)) \(pad(c.wrapRecords, 6))")
            }
        }
        out.flush()
        for d in info.diagnostics { FDWriter.stderrLine("xenscope: \(d)") }
        if !info.diagnostics.isEmpty { throw ExitCode(2) }
    }

    static func json(_ info: TraceInfo, file: String) -> String {
        var s = "{\"file\":\(JSONString.literal(file)),\"records\":\(info.totalRecords),\"bytes\":\(info.totalBytes)"
        s += ",\"cpu_change_records\":\(info.cpuChangeRecords),\"first_tsc\":\(info.firstTSC),\"last_tsc\":\(info.lastTSC)"
        s += ",\"lost_record_events\":\(info.lostRecordEvents),\"lost_records\":\(info.lostRecords),\"wrap_records\":\(info.wrapRecords)"
        s += ",\"cpus\":["
        s += info.cpus.map { c in
            "{\"cpu\":\(c.cpu),\"records\":\(c.records),\"bytes\":\(c.bytes),\"first_tsc\":\(c.firstTSC),\"last_tsc\":\(c.lastTSC),\"cpu_change_records\":\(c.cpuChangeRecords),\"lost_record_events\":\(c.lostRecordEvents),\"lost_records\":\(c.lostRecords),\"wrap_records\":\(c.wrapRecords)}"
        }.joined(separator: ",")
        s += "],\"events\":{"
        s += info.eventCounts.sorted { $0.key < $1.key }.map { "\"0x\(hex8($0.key))\":\($0.value)" }.joined(separator: ",")
        s += "},\"diagnostics\":["
        s += info.diagnostics.map { d in
            "{\"kind\":\"\(d.kind.rawValue)\",\"offset\":\(d.offset),\"cpu\":\(d.cpu.map { String($0) } ?? "null"),\"message\":\(JSONString.literal(d.message))}"
        }.joined(separator: ",")
        return s + "]}"
    }
}

func pad<T: BinaryInteger>(_ v: T, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}

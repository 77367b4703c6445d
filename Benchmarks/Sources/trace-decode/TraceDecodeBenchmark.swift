#if canImport(Glibc)
import Glibc
#endif
import XenTrace
import XenTraceFormats

/// Measures `trace decode` (our text, TSC order; and xentrace_format mode with
/// formats/xenscope.formats, file order) to /dev/null: MB/s, records/s, peak RSS.
/// Usage: trace-decode [TRACE] [FORMATS]; without TRACE it writes a 1 GiB
/// synthetic trace to /tmp first (xenscope's synthesizer, seed 1).
@main
struct TraceDecodeBenchmark {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// User + system CPU seconds of this process so far.
    static func cpuTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func peakRSSMiB() -> Double {
        guard let f = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("VmHWM:") {
                return Double(s.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) / 1024
            }
        }
        return 0
    }

    static func run(_ label: String, _ path: String, style: TraceDecoder.Style?, order: RecordOrder) throws {
        let devnull = open("/dev/null", O_WRONLY)
        defer { close(devnull) }
        let input = try TraceInput.open(path)
        var decoder = TraceDecoder(style: style ?? .text)
        decoder.hideCPUChange = order == .tsc
        var sink = ByteSink(capacity: 1 << 17)
        var records = 0
        var bytes = 0
        var outBytes = 0
        let t0 = now()
        let c0 = cpuTime()
        _ = try input.forEachRecord(order: order) { r in
            records += 1
            bytes += r.size
            if style != nil { _ = decoder.decode(r, into: &sink) }
            if sink.count >= 1 << 16 {
                outBytes += sink.count
                sink.withBytes { _ = write(devnull, $0.baseAddress, $0.count) }
                sink.reset()
            }
            return true
        }
        outBytes += sink.count
        let dt = now() - t0
        let cpu = cpuTime() - c0
        let mb = Double(bytes) / 1e6
        print("\(label): \(records) records, \(Int(mb)) MB; wall \(format3(dt)) s = \(Int(mb / dt)) MB/s; CPU \(format3(cpu)) s = \(Int(mb / cpu)) MB/s, \(Int(Double(records) / cpu / 1e3)) k records/s; \(Int(Double(outBytes) / 1e6)) MB of text; peak RSS \(Int(peakRSSMiB())) MiB")
    }

    /// TRACE_DECODE_ONLY=text runs only the text decode (for profiling).
    static func textOnly() -> Bool {
        guard let v = getenv("TRACE_DECODE_ONLY") else { return false }
        return String(cString: v) == "text"
    }

    static func format3(_ d: Double) -> String {
        let ms = Int((d * 1000).rounded())
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - String(ms % 1000).count))\(ms % 1000)"
    }

    static func main() throws {
        let args = CommandLine.arguments
        var path = args.count > 1 ? args[1] : "/tmp/xenscope-bench-1g.xentrace"
        if args.count <= 1 && access(path, R_OK) != 0 {
            var o = TraceSynthesizer.Options()
            o.size = 1 << 30
            o.cpus = 8
            o.domains = 200
            o.seed = 1
            let t0 = now()
            let c = try TraceSynthesizer(o).write(toPath: path)
            print("generated \(path): \(c.bytes) bytes, \(c.records) records in \(format3(now() - t0)) s")
        }
        if args.count > 1 { path = args[1] }
        if textOnly() {
            try run("decode text, file order", path, style: .text, order: .file)
            return
        }
        try run("read only (floor), file order", path, style: nil, order: .file)
        try run("read only (floor), TSC order", path, style: nil, order: .tsc)
        try run("decode text, file order", path, style: .text, order: .file)
        try run("decode text, TSC order", path, style: .text, order: .tsc)
        let formatsPath = args.count > 2 ? args[2] : "formats/xenscope.formats"
        let formats = try FormatsFile(path: formatsPath)
        try run("decode --formats (xentrace_format mode), file order", path, style: .xentraceFormat(formats, mhz: 0), order: .file)
    }
}

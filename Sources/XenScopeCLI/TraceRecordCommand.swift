import ArgumentParser
import Collector
import XenTraceAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// `xenscope trace record`: xentrace's job — drain the per-CPU trace rings
/// into a trace file — from a shared-memory region or from Xen in dom0.
struct TraceRecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record trace rings into a new xentrace-format file (shared memory or Xen in dom0).",
        discussion: """
        Stops after --duration, on SIGINT/SIGTERM/SIGHUP, or (shared memory) when every \
        producer has closed its ring. Never appends: FILE must not exist. Progress \
        (records/s, bytes, lost records) goes to stderr when it is a terminal. \
        FILE.meta.json beside FILE records the clock (Xen: the TSC on x86, the ARM generic \
        timer on arm64) and, with --cpu-hz, its rate; FILE itself is exactly what xentrace writes.
        """
    )

    @Option(name: [.short, .customLong("output")], help: "Trace file to create (must not exist).")
    var output: String

    @Option(name: .customLong("cpu-hz"), help: "Rate of the timestamp counter (xl info's cpu_mhz; e.g. 2.4G, 62.5M), recorded in FILE.meta.json.")
    var cpuHz: String?

    @Option(name: .customLong("event"), help: "Event mask, e.g. 0x0008f000 for all HVM events (default TRC_ALL 0x0ffff000).")
    var event: String = "0x0ffff000"

    @Option(name: .customLong("cpus"), help: "CPUs to trace: all, a hex mask 0x…, or a list like 0,2,5-7.")
    var cpus: String = "all"

    @Option(name: .customLong("size"), help: "Ring size in pages per CPU (Xen: only before buffers are first allocated; default 32).")
    var size: Int?

    @Option(name: .customLong("duration"), help: "Stop after this many seconds.")
    var duration: Double?

    @Flag(name: .customLong("stop-on-signal"), help: "Keep recording until a signal (or --duration), even after every producer closed its ring.")
    var stopOnSignal = false

    @Flag(name: .customLong("discard"), help: "Drop what the rings already hold before recording (xentrace -D).")
    var discard = false

    @Option(name: .customLong("shm"), help: "Shared-memory region: a name under /dev/shm or a path.")
    var shm: String?

    @Flag(name: .customLong("xen"), help: "Record Xen's own trace buffers (run as root in dom0).")
    var xen = false

    @Flag(name: .customLong("json"), help: "Print the final summary as JSON on stdout.")
    var json = false

    func validate() throws {
        if (shm == nil) == !xen { throw ValidationError("give exactly one of --shm NAME or --xen") }
        if let size, size < 1 || size > 65535 { throw ValidationError("--size must be 1...65535 pages") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        _ = try parseMask()
    }

    func parseMask() throws -> UInt32 {
        let s = event.lowercased()
        let v = s.hasPrefix("0x") ? UInt32(s.dropFirst(2), radix: 16) : UInt32(s)
        guard let v else { throw ValidationError("--event: \(event) is not a 32-bit number (hex with 0x, or decimal)") }
        return v
    }

    func run() throws {
        let signals = SignalWatcher()
        signal(SIGXFSZ, SIG_IGN)   // a file-size limit must surface as EFBIG, not kill us
        var options = CollectorOptions()
        options.eventMask = try parseMask()
        options.duration = duration
        options.untilSignal = stopOnSignal
        options.discardOld = discard
        do {
            options.cpus = try CPUList.parse(cpus)
            let backend: TraceBackend = if let shm {
                try SharedMemoryBackend(name: shm, pages: size)
            } else {
                try XenBackend(pages: size)
            }
            let hz = try cpuHz.map { h -> Double in
                guard let v = TimeBase.parseHz(h) else { throw ValidationError("--cpu-hz: cannot read '\(h)' as a frequency") }
                return v
            }
            let sink = try TraceFileSink(path: output)
            let collector = Collector(backend: backend, sink: sink, options: options)
            let tty = isatty(2) != 0
            var last = (records: 0, time: 0.0)
            let stats = try collector.run(stopRequested: { signals.pending() }, progress: { s in
                guard tty else { return }
                let rate = Double(s.records - last.records) / max(1e-9, s.elapsedSeconds - last.time)
                last = (s.records, s.elapsedSeconds)
                FDWriter(fd: 2).write("\r\(s.records) records (\(Int(rate))/s), \(s.bytes / 1_000_000) MB, \(s.lost) lost   ")
            })
            if tty { FDWriter(fd: 2).write("\n") }
            try RecordingMetadata.make(xen: shm == nil, cpuHz: hz).write(tracePath: output)
            for w in stats.warnings { FDWriter.stderrLine("xenscope: warning: \(w)") }
            let out = FDWriter(fd: json ? 1 : 2)
            if json {
                out.line("{\"file\":\"\(output)\",\"records\":\(stats.records),\"bytes\":\(stats.bytes),\"lost\":\(stats.lost),\"windows\":\(stats.windows),\"seconds\":\(stats.elapsedSeconds),\"stop\":\"\(stats.stopReason)\"}")
            } else {
                out.line("xenscope: wrote \(output): \(stats.records) records, \(stats.bytes) bytes in \(stats.windows) windows, \(stats.lost) lost, \(String(format2(stats.elapsedSeconds))) s (\(stats.stopReason))")
            }
        } catch {
            FDWriter.stderrLine("xenscope: \(error)")
            throw ExitCode(1)
        }
    }
}

func format2(_ v: Double) -> String {
    let r = (v * 100).rounded() / 100
    return "\(r)"
}

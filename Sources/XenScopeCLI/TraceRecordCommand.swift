import BinaryIO
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

    @Option(name: [.short, .customLong("output")], help: "Trace file to create (must not exist); - for standard output (also the default when stdout is not a terminal and no FILE is given).")
    var output: String?

    @Argument(help: "The trace file, as xentrace takes it (same as -o).")
    var file: String?

    @Option(name: .customLong("cpu-hz"), help: "Rate of the timestamp counter (xl info's cpu_mhz; e.g. 2.4G, 62.5M), recorded in FILE.meta.json.")
    var cpuHz: String?

    @Option(name: [.customShort("e"), .customLong("event"), .customLong("evt-mask")], help: "Event mask, e.g. 0x0008f000 for all HVM events, or gen/sched/dom0op/hvm/all (default TRC_ALL 0x0ffff000).")
    var event: String = "0x0ffff000"

    @Option(name: [.customShort("c"), .customLong("cpus"), .customLong("cpu-mask")], help: "CPUs to trace: all, a hex mask 0x…, or a list like 0,2,5-7.")
    var cpus: String = "all"

    @Option(name: [.customShort("S"), .customLong("size"), .customLong("trace-buf-size")], help: "Ring size in pages per CPU (Xen: only before buffers are first allocated; default 32).")
    var size: Int?

    @Option(name: [.customShort("T"), .customLong("duration"), .customLong("time-interval")], help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: [.customShort("s"), .customLong("poll-interval"), .customLong("poll-sleep")], help: ArgumentHelp("Longest sleep between passes over the rings, in milliseconds, when no ring reaches half full (default 10; xentrace's is 100).", valueName: "ms"))
    var pollInterval: UInt64?

    @Option(name: [.customShort("M"), .customLong("memory-buffer")], help: ArgumentHelp("Flight recorder: keep the newest SIZE bytes of trace (64k, 16M, 1G) in memory and write them on exit; older records are overwritten and counted in FILE.meta.json.", valueName: "size"))
    var memoryBuffer: String?

    @Option(name: .customLong("reserve-disk-space"), help: ArgumentHelp("Stop before the output's file system would have less than SIZE bytes free (64M, 1G; a plain number counts bytes); the file stays valid.", valueName: "size"))
    var reserveDiskSpace: String?

    @Option(name: .customShort("r"), help: ArgumentHelp("xentrace's -r: like --reserve-disk-space, but a plain number counts MiB, as in xentrace.", valueName: "mib"))
    var reserveMiB: String?

    @Flag(name: [.customShort("x"), .customLong("leave-tracing-enabled"), .customLong("dont-disable-tracing")], help: "Leave tracing enabled when recording stops (producers keep filling the rings).")
    var leaveTracingEnabled = false

    @Flag(name: [.customShort("X"), .customLong("start-disabled")], help: "Set the masks and listen, but leave tracing disabled: someone else enables it.")
    var startDisabled = false

    @Flag(name: .customLong("stop-on-signal"), help: "Keep recording until a signal (or --duration), even after every producer closed its ring.")
    var stopOnSignal = false

    @Flag(name: [.customShort("D"), .customLong("discard"), .customLong("discard-buffers")], help: "Drop what the rings already hold before recording (xentrace -D).")
    var discard = false

    @Option(name: .customLong("shm"), help: "Shared-memory region: a name under /dev/shm or a path.")
    var shm: String?

    @Flag(name: .customLong("xen"), help: "Record Xen's own trace buffers (run as root in dom0).")
    var xen = false

    @Flag(name: .customLong("json"), help: "Print the final summary as JSON on stdout.")
    var json = false

    /// The output path, or "-" for standard output.
    var target: String {
        output ?? file ?? "-"
    }

    func validate() throws {
        if (shm == nil) == !xen { throw ValidationError("give exactly one of --shm NAME or --xen") }
        if output != nil && file != nil { throw ValidationError("give the output once: -o FILE or FILE") }
        if target == "-" {
            if isatty(1) != 0 { throw ValidationError("standard output is a terminal: give -o FILE (or redirect; a trace is binary)") }
            if json { throw ValidationError("--json prints on standard output, where the trace goes: write the trace to a file") }
        }
        if let size, size < 1 || size > 65535 { throw ValidationError("--size must be 1...65535 pages") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        if let m = memoryBuffer {
            guard let v = ByteSize.parse(m), v >= 48, v <= Int64(Int32.max) * 16 else { throw ValidationError("--memory-buffer: \(m) is not a size of 48 bytes to 32G (like 65536, 64k, 16M, 1G)") }
        }
        if reserveDiskSpace != nil && reserveMiB != nil { throw ValidationError("give --reserve-disk-space or -r, not both") }
        _ = try reserve()
        _ = try parseMask()
    }

    /// Bytes to keep free, if asked.
    func reserve() throws -> Int64? {
        if let r = reserveDiskSpace {
            guard let v = ByteSize.parse(r) else { throw ValidationError("--reserve-disk-space: \(r) is not a size (like 1048576, 64M, 1G)") }
            return v
        }
        if let r = reserveMiB {
            guard let v = ByteSize.parse(r, plainUnit: 1 << 20) else { throw ValidationError("-r: \(r) is not a size (MiB, or with a k/M/G suffix)") }
            return v
        }
        return nil
    }

    func parseMask() throws -> UInt32 {
        let s = event.lowercased()
        let named: [String: UInt32] = ["gen": 0x0001_f000, "sched": 0x0002_f000, "dom0op": 0x0004_f000, "hvm": 0x0008_f000, "all": 0x0fff_f000]
        if let v = named[s] { return v }
        let v = s.hasPrefix("0x") ? UInt32(s.dropFirst(2), radix: 16) : UInt32(s)
        guard let v else { throw ValidationError("--event: \(event) is not a 32-bit number (hex with 0x, or decimal) or one of gen, sched, dom0op, hvm, all") }
        return v
    }

    func run() throws {
        let signals = SignalWatcher()
        signal(SIGXFSZ, SIG_IGN)   // a file-size limit must surface as EFBIG, not kill us
        signal(SIGPIPE, SIG_IGN)   // a reader of stdout going away must surface as EPIPE
        var options = CollectorOptions()
        options.leaveTracingEnabled = leaveTracingEnabled
        options.startDisabled = startDisabled
        if let pollInterval { options.pollNanoseconds = pollInterval * 1_000_000 }
        let output = target
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
            let fileSink = output == "-" ? try TraceFileSink(standardOutput: ()) : try TraceFileSink(path: output)
            fileSink.reserveBytes = try reserve()
            let bufferBytes = memoryBuffer.flatMap { ByteSize.parse($0) }.map { Int($0) }
            let sink: TraceSink = try bufferBytes.map { try FlightRecorderSink(capacity: $0, output: fileSink) } ?? fileSink
            let collector = Collector(backend: backend, sink: sink, options: options)
            let line: ProgressLine? = isatty(2) != 0 ? ProgressLine() : nil
            var last = (records: 0, time: 0.0)
            let stats = try collector.run(stopRequested: { signals.pending() }, progress: { s in
                guard let line else { return }
                let rate = Double(s.records - last.records) / max(1e-9, s.elapsedSeconds - last.time)
                last = (s.records, s.elapsedSeconds)
                line.show("\(s.records) records (\(Int(rate))/s), \(s.bytes / 1_000_000) MB, \(s.lost) lost")
            })
            line?.finish(keep: true)
            var meta = RecordingMetadata.make(xen: shm == nil, cpuHz: hz)
            let overwritten = bufferBytes.map { RecordingMetadata.overwritten(bufferBytes: $0, stats.overwritten) }
            meta.overwritten = overwritten
            if output != "-" { try meta.write(tracePath: output) }
            for w in stats.warnings { FDWriter.stderrLine("xenscope: warning: \(w)") }
            let out = FDWriter(fd: json ? 1 : 2)
            let kept = stats.records - Int(overwritten?.records ?? 0)
            if json {
                let fr = overwritten.map { ",\"memory_buffer\":\($0.bufferBytes),\"kept_records\":\(kept),\"overwritten_records\":\($0.records),\"overwritten_bytes\":\($0.bytes)" } ?? ""
                out.line("{\"file\":\(JSONString.literal(output)),\"records\":\(stats.records),\"bytes\":\(stats.bytes),\"lost\":\(stats.lost),\"windows\":\(stats.windows),\"seconds\":\(stats.elapsedSeconds),\"stop\":\(JSONString.literal(stats.stopReason)),\"disk_reserve_reached\":\(stats.reserveReached)\(fr)}")
            } else {
                let name = output == "-" ? "standard output" : output
                let fr = overwritten.map { " (memory buffer of \($0.bufferBytes) bytes: kept the newest \(kept), overwrote \($0.records) records, \($0.bytes) bytes)" } ?? ""
                out.line("xenscope: wrote \(name): \(stats.records) records\(fr), \(stats.bytes) bytes in \(stats.windows) windows, \(stats.lost) lost, \(String(format2(stats.elapsedSeconds))) s (\(stats.stopReason))")
            }
            if stats.reserveReached { throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
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


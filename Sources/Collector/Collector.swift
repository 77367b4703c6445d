import TraceRing
#if canImport(Glibc)
import Glibc
#endif

/// How to record (the `xenscope trace record` options, minus output).
public struct CollectorOptions: Sendable {
    /// Xen event mask (default TRC_ALL).
    public var eventMask: UInt32 = 0x0fff_f000
    /// CPUs to trace; nil: all.
    public var cpus: Set<UInt32>? = nil
    /// Stop after this many seconds.
    public var duration: Double? = nil
    /// Keep recording when every producer has closed its ring (only a signal
    /// or the duration stops).
    public var untilSignal = false
    /// Longest sleep between passes when no producer wakes us.
    public var pollNanoseconds: UInt64 = 10_000_000
    /// After stopping: how long producers get to close their rings (flush
    /// pending lost counts) before the last pass.
    public var closeGraceSeconds: Double = 2
    /// Seconds between progress reports.
    public var progressInterval: Double = 1
    /// Drop what the rings hold before recording starts (xentrace `-D`).
    public var discardOld = false
    /// Leave tracing enabled when recording stops (xentrace `-x`): producers
    /// keep filling the rings for whoever reads them next.
    public var leaveTracingEnabled = false
    /// Set the masks and attach, but leave tracing disabled (xentrace `-X`):
    /// someone else enables it.
    public var startDisabled = false
    public init() {}
}

/// Running totals of a recording.
public struct CollectorStats: Sendable {
    /// Records copied (wrap padding excluded, LOST_RECORDS records included).
    public var records = 0
    /// Bytes written to the file, CPU-change records included.
    public var bytes: Int64 = 0
    /// Records that producers reported lost (sum of TRC_LOST_RECORDS counts).
    public var lost: UInt64 = 0
    /// Windows (CPU-change blocks) written.
    public var windows = 0
    public var elapsedSeconds = 0.0
    /// Why recording stopped.
    public var stopReason = ""
    /// Longest time between the starts of two passes over the rings: how
    /// long the rings were left alone (sleep plus any time not scheduled).
    public var longestGapSeconds = 0.0
    /// Things the person should know (rings not closed, damaged windows).
    public var warnings: [String] = []
    /// Flight recorder: records and bytes dropped to make room, per CPU.
    public var overwritten: [UInt32: OverwrittenCount] = [:]
    /// Recording stopped because the disk reserve would have been breached.
    public var reserveReached = false
}

/// Drains every ring of a backend into a trace file, xentrace-style: CPUs in
/// ascending order, one window per CPU with new data, then sleep until a ring
/// is half full or the poll interval passes.
public final class Collector {
    public let backend: TraceBackend
    public let sink: TraceSink
    public let options: CollectorOptions
    private var stats = CollectorStats()
    private var active: [Bool]
    private var broken: [Bool]

    public init(backend: TraceBackend, sink: TraceSink, options: CollectorOptions) {
        self.backend = backend
        self.sink = sink
        self.options = options
        active = []
        broken = []
    }

    /// Records until the duration passes, `stopRequested` returns a reason
    /// (a signal), or — shared memory — every producer closed its ring.
    /// Calls `progress` every `progressInterval` seconds.
    /// Writing the next window would breach the disk reserve: stops like a
    /// signal would (``CollectorStats/reserveReached``), the file valid.
    public func run(stopRequested: () -> String?, progress: (CollectorStats) -> Void) throws -> CollectorStats {
        try backend.start(eventMask: options.eventMask, cpus: options.cpus, enable: !options.startDisabled)
        if options.discardOld { for ring in backend.rings { ring.discard() } }
        active = Array(repeating: false, count: backend.rings.count)
        broken = active
        let t0 = monotonicSeconds()
        var nextProgress = t0 + options.progressInterval
        var stopDeadline: Double? = nil
        var lastPass = t0
        do {
            while true {
                let passStart = monotonicSeconds()
                stats.longestGapSeconds = max(stats.longestGapSeconds, passStart - lastPass)
                lastPass = passStart
                do { try drainAll() } catch let e as DiskReserveReached {
                    stats.reserveReached = true
                    stats.stopReason = e.message
                    if !options.leaveTracingEnabled { try backend.stop() }
                    break
                }
                let now = monotonicSeconds()
                stats.elapsedSeconds = now - t0
                if let deadline = stopDeadline {
                    if !backend.reportsClose || allActiveClosed() || now >= deadline { break }
                } else {
                    var reason: String? = stopRequested()
                    if reason == nil, let d = options.duration, now - t0 >= d { reason = "duration of \(d) s reached" }
                    if reason == nil, backend.reportsClose, !options.untilSignal, allActiveClosed() {
                        reason = "every producer closed its ring"
                    }
                    if let reason {
                        stats.stopReason = reason
                        if options.leaveTracingEnabled {
                            // Producers go on: one last pass, as xentrace -x.
                            stopDeadline = now
                        } else {
                            try backend.stop()
                            stopDeadline = now + options.closeGraceSeconds
                        }
                        continue
                    }
                }
                if now >= nextProgress {
                    progress(stats)
                    nextProgress = now + options.progressInterval
                }
                backend.waitForData(timeoutNanoseconds: stopDeadline == nil ? options.pollNanoseconds : 1_000_000)
            }
            if !stats.reserveReached {
                do { try drainAll() } catch let e as DiskReserveReached {
                    stats.reserveReached = true
                    stats.stopReason += "; then \(e.message)"
                }
            }
        } catch {
            if !options.leaveTracingEnabled { try? backend.stop() }
            throw error
        }
        if backend.reportsClose && !options.leaveTracingEnabled && !stats.reserveReached {
            for (i, ring) in backend.rings.enumerated() where active[i] && !backend.isClosed(cpu: ring.cpu) {
                stats.warnings.append("CPU \(ring.cpu): its producer did not close the ring within \(options.closeGraceSeconds) s; records it dropped after its last LOST_RECORDS record are not accounted")
            }
        }
        do { try sink.finish() } catch let e as DiskReserveReached {
            stats.reserveReached = true
            stats.stopReason = e.message
        }
        stats.overwritten = sink.overwritten
        stats.bytes = sink.committed
        if let fr = sink as? FlightRecorderSink { stats.bytes = fr.output.committed }
        stats.elapsedSeconds = monotonicSeconds() - t0
        return stats
    }

    private func allActiveClosed() -> Bool {
        var any = false
        for (i, ring) in backend.rings.enumerated() {
            let closed = backend.isClosed(cpu: ring.cpu)
            if closed { any = true; active[i] = true } else if active[i] { return false }
        }
        return any
    }

    /// One pass over all rings in CPU order.
    private func drainAll() throws {
        for (i, ring) in backend.rings.enumerated() where !broken[i] {
            let window: RingWindow?
            do { window = try ring.window() } catch {
                broken[i] = true
                stats.warnings.append("\(backend.name): \(error); no longer reading that ring")
                continue
            }
            guard let w = window else { continue }
            active[i] = true
            let t = w.tally()
            if t.damaged {
                stats.warnings.append("CPU \(w.cpu): window at ring offset \(w.cons) holds a record crossing its end (producer bug); written as is")
            }
            try sink.write(w)
            ring.release(w)
            stats.records += t.records
            stats.lost += t.lost
            stats.windows += 1
            stats.bytes = sink.committed
        }
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Turns SIGINT/SIGTERM/SIGHUP/SIGALRM into a polled "stop" request, like
/// xentrace's handlers, without global state: the signals are blocked in the
/// calling thread (create this before any other thread) and collected with
/// `sigtimedwait`.
public final class SignalWatcher {
    private var set = sigset_t()

    public init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGALRM]) {
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// The pending signal's name, if one arrived.
    public func pending() -> String? {
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        let s = sigtimedwait(&set, nil, &zero)
        guard s > 0 else { return nil }
        return "signal \(String(cString: strsignal(s)))"
    }
}

/// xentrace's CPU list syntax: `all`, a hex mask `0x5`, or `0,2,5-7`, `-3`, `3-`.
public enum CPUList {
    /// nil means all CPUs.
    public static func parse(_ s: String, maxCPU: UInt32 = 4095) throws -> Set<UInt32>? {
        if s == "all" { return nil }
        if s.hasPrefix("0x") || s.hasPrefix("0X") {
            guard let m = UInt64(s.dropFirst(2), radix: 16) else { throw CollectorError("bad CPU mask \(s)") }
            return Set((0..<64).filter { m & (1 << $0) != 0 }.map { UInt32($0) })
        }
        var out = Set<UInt32>()
        for part in s.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            func num(_ t: Substring, _ dflt: UInt32) throws -> UInt32 {
                if t.isEmpty { return dflt }
                guard let v = UInt32(t), v <= maxCPU else { throw CollectorError("bad CPU list \(s): \"\(t)\" is not a CPU number 0...\(maxCPU)") }
                return v
            }
            if bounds.count == 1 {
                guard !part.isEmpty else { throw CollectorError("bad CPU list \(s): empty entry") }
                out.insert(try num(part, 0))
            } else {
                let lo = try num(bounds[0], 0), hi = try num(bounds[1], maxCPU)
                guard lo <= hi, !(bounds[0].isEmpty && bounds[1].isEmpty) else { throw CollectorError("bad CPU range \(part) in \(s)") }
                for c in lo...hi { out.insert(c) }
            }
        }
        return out
    }
}

/// Byte sizes as xentrace's `-M` takes them, plus G: `65536`, `64k`, `16M`,
/// `1G` (binary multiples; an optional `B`/`iB` after the suffix).
public enum ByteSize {
    /// `plainUnit`: what a number without suffix counts (1 = bytes;
    /// 1 MiB for xentrace's `-r`).
    public static func parse(_ s: String, plainUnit: Int64 = 1) -> Int64? {
        var t = Substring(s)
        if t.hasSuffix("iB") { t = t.dropLast(2) } else if t.hasSuffix("B") && t.count > 1 && !(t.dropLast().last?.isNumber ?? true) { t = t.dropLast() }
        var unit = plainUnit
        switch t.last {
        case "k", "K": unit = 1 << 10; t = t.dropLast()
        case "m", "M": unit = 1 << 20; t = t.dropLast()
        case "g", "G": unit = 1 << 30; t = t.dropLast()
        default: break
        }
        guard !t.isEmpty, t.allSatisfy(\.isNumber), let v = Int64(t) else { return nil }
        let (r, o) = v.multipliedReportingOverflow(by: unit)
        return o ? nil : r
    }
}

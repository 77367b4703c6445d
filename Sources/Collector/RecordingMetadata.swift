import XenTrace
#if canImport(Glibc)
import Glibc
#endif

/// The metadata `xenscope trace record` writes beside its output
/// (``TraceMetadata``, `FILE.meta.json`): the clock and rate of the
/// timestamps, as far as the recorder knows them.
public enum RecordingMetadata {
    /// Xen stamps records with its architecture's counter, and dom0 runs on
    /// that architecture, so `uname -m` names the clock. A shared-memory
    /// producer writes whatever timestamps it likes: unknown. The rate is
    /// only known when given (`cpuHz`; Xen's `xl info` cpu_mhz).
    public static func make(xen: Bool, cpuHz: Double?, machine: String = currentMachine()) -> TraceMetadata {
        let kind: TraceClock.Kind = xen ? TraceClock.kind(machine: machine) : .unknown
        let clock = TraceClock(kind: kind, hz: cpuHz ?? 0,
                               hzSource: cpuHz == nil ? "unknown (give --cpu-hz to trace record, or --cpu-hz/--xl-info when analysing)" : "trace record --cpu-hz")
        return TraceMetadata(clock: clock, machine: machine)
    }

    /// The flight recorder's losses for the sidecar (nil without one).
    public static func overwritten(bufferBytes: Int, _ counts: [UInt32: OverwrittenCount]) -> TraceMetadata.Overwritten {
        let cpus = counts.keys.sorted()
        return TraceMetadata.Overwritten(
            bufferBytes: Int64(bufferBytes),
            records: Int64(counts.values.reduce(0) { $0 + $1.records }),
            bytes: counts.values.reduce(0) { $0 + $1.bytes },
            perCPU: cpus.map { "\($0):\(counts[$0]!.records):\(counts[$0]!.bytes)" }.joined(separator: ","))
    }

    /// `uname -m` of this machine.
    public static func currentMachine() -> String {
        var u = utsname()
        guard uname(&u) == 0 else { return "" }
        return withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

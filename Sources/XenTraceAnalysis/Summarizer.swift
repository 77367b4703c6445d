import BinaryIO
import XenTrace

/// Options of a summary run.
public struct SummaryOptions: Sendable {
    /// Timestamp counts per second (the TSC's rate on x86, the generic
    /// timer's on arm64).
    public var cpuHz: Double = Summarizer.defaultCPUHz
    /// "--cpu-hz", "xl-info", "default" or the metadata file it came from.
    public var cpuHzSource = "default"
    /// Which counter the timestamps are, when known (`--clock`, `xl info`,
    /// the recorder's metadata); unknown: inferred from x86-only events.
    public var clockKind: TraceClock.Kind = .unknown

    /// The clock as given (before any inference from the trace's events).
    public var clock: TraceClock { TraceClock(kind: clockKind, hz: cpuHz, hzSource: cpuHzSource) }
    /// Only records whose (order) TSC lies in [fromTSC, toTSC] are analysed.
    public var fromTSC: UInt64? = nil
    public var toTSC: UInt64? = nil
    /// 2 (the default): a second thread decodes, merges and runs the per-CPU
    /// passes while the calling thread runs the scheduler/HVM/PV model;
    /// 1: everything on the calling thread (same output, byte for byte).
    public var threads = 2
    /// How to name exit reasons: `--vmx`/`--svm`, or nil to detect it from
    /// the exits (``HVMFlavourDetector``).
    public var hvmFlavour: HVMFlavour? = nil
    /// A decision made before the pass (exports name exits as they stream).
    var decidedFlavour: (flavour: HVMFlavour, reason: String)? = nil
    public init() {}
}

/// Runs the analysis passes over a trace in TSC order and assembles a
/// ``TraceSummary``. Each pass keeps its own state; the scheduler pass also
/// tells the others which vCPU is current on each pCPU (HVM and PV records
/// carry no vCPU of their own).
public struct Summarizer {
    /// xenalyze's default TSC frequency when none is given (2.4 GHz).
    public static let defaultCPUHz = 2.4e9

    struct CPUVolume {
        var records = 0, bytes = 0
        var firstTSC: UInt64 = 0, lastTSC: UInt64 = 0
        var classBytes = [Int](repeating: 0, count: 8)
        var lostEvents = 0
        var lost: UInt64 = 0
    }

    /// Summarises the trace file at `path`.
    public static func summarize(path: String, options: SummaryOptions = SummaryOptions(),
                                 sink: TimelineSink? = nil,
                                 progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> TraceSummary {
        let trace = try TraceFile(path: path)
        let mapping = trace.mapping
        var options = options
        if sink != nil {
            // A sink gets exit names as the exits close: decide before the pass.
            let d = options.hvmFlavour == nil ? HVMFlavourDetector.scan(trace) : HVMFlavourDetector()
            options.decidedFlavour = d.decide(given: options.hvmFlavour)
        }
        let s = mapping.withView { b in
            summarize(bytes: b, file: path, options: options, sink: sink,
                      dropPages: { mapping.dropPages(offset: $0, count: $1) },
                      progress: progress.map { report in { report($0, b.count) } })
        }
        try sink?.end()
        return s
    }

    /// Summarises a whole trace held in memory.
    /// `sink`, if given, receives the intervals as they close (its `end()` is the caller's job).
    public static func summarize(bytes: some ByteViewSource, file: String, options: SummaryOptions = SummaryOptions(),
                                 sink: TimelineSink? = nil, dropPages: ((Int, Int) -> Void)? = nil,
                                 progress: ((Int) -> Void)? = nil) -> TraceSummary {
        var merge = XenalyzeOrderWalk(bytes, dropPages: dropPages)
        merge.progress = progress
        var volume = VolumePass(merge: merge, options: options, sink: sink)
        var model = ModelPass(merge: merge, options: options, sink: sink)
        if options.threads > 1 && sink == nil {
            // Two cores: one thread decodes, merges and runs the per-CPU
            // passes (volume, IRQs, power), handing on only what the
            // scheduler/HVM/PV model needs; this thread runs the model.
            (merge, volume) = PipelinedWalk.run(merge, volume: volume, into: &model)
        } else {
            var both = SerialRun(volume: volume, model: model)
            merge.run(into: &both)
            volume = both.volume
            model = both.model
        }
        return model.finish(file: file, merge: merge, volume: volume)
    }

    /// The current vCPU of pCPU `p` for an HVM or PV record, following
    /// xenalyze's checks (a known vCPU, not idle, of the right kind).
    static func hvmVCPU(_ sched: inout SchedulerAnalysis, p: Int, r: TraceRecord, misc: inout AnomalyLog,
                        want: SchedulerAnalysis.DataType) -> Int? {
        guard let v = sched.pcpus[p].current else {
            misc.note("no-current-vcpu", offset: r.offset, "\(want == .hvm ? "HVM" : "PV") record on pCPU \(p) while no vCPU is known to run there; not attributed")
            return nil
        }
        if sched.vcpus[v].dom == SchedulerAnalysis.idleDomain {
            misc.note("record-on-idle", offset: r.offset, "\(want == .hvm ? "HVM" : "PV") record on pCPU \(p) while its idle vCPU runs; not attributed")
            return nil
        }
        let t = sched.vcpus[v].dataType
        if t == .none { sched.vcpus[v].dataType = want } else if t != want {
            misc.note("mixed-vcpu-kind", offset: r.offset, "\(want == .hvm ? "HVM" : "PV") record for a vCPU seen as the other kind; not attributed")
            return nil
        }
        return v
    }
}


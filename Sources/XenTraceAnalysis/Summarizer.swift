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
    /// 2: decode/merge on a second thread while the passes run (the default);
    /// 1: everything on the calling thread.
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
                                 sink: TimelineSink? = nil) throws -> TraceSummary {
        let trace = try TraceFile(path: path)
        let mapping = trace.mapping
        var options = options
        if sink != nil {
            // A sink gets exit names as the exits close: decide before the pass.
            let d = options.hvmFlavour == nil ? HVMFlavourDetector.scan(trace) : HVMFlavourDetector()
            options.decidedFlavour = d.decide(given: options.hvmFlavour)
        }
        let s = mapping.withBytes { summarize(bytes: $0, file: path, options: options, sink: sink,
                                              dropPages: { mapping.dropPages(offset: $0, count: $1) }) }
        try sink?.end()
        return s
    }

    /// Summarises a whole trace held in memory.
    /// `sink`, if given, receives the intervals as they close (its `end()` is the caller's job).
    public static func summarize(bytes: UnsafeRawBufferPointer, file: String, options: SummaryOptions = SummaryOptions(),
                                 sink: TimelineSink? = nil, dropPages: ((Int, Int) -> Void)? = nil) -> TraceSummary {
        var merge = XenalyzeOrderWalk(bytes, dropPages: dropPages)
        var run = SummaryRun(merge: merge, options: options, sink: sink)
        if options.threads > 1 {
            // Two cores: one thread decodes and merges, this one analyses.
            merge = PipelinedWalk.run(merge, bytes: bytes) { run.handle($0) }
        } else {
            merge.run { run.handle($0) }
        }
        return run.finish(file: file, merge: merge)
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

/// The state of one summary run: every pass, fed one merged item at a time.
/// A struct with a mutating `handle`, so the hot path has no captured
/// variables (and no dynamic exclusivity checks).
struct SummaryRun {
    var sched: SchedulerAnalysis
    var hvm = HVMExitAnalysis()
    var pv = PVAnalysis()
    var irq = IRQAnalysis()
    var power = PowerAnalysis()
    var vol: [Summarizer.CPUVolume]
    var misc = AnomalyLog()
    var firstOrder: UInt64 = 0, lastOrder: UInt64 = 0
    var records = 0
    var begun = false
    let cpuList: [Int]
    let from: UInt64, to: UInt64
    let sink: TimelineSink?
    let options: SummaryOptions

    init(merge: XenalyzeOrderWalk, options: SummaryOptions, sink: TimelineSink?) {
        let maxCPU = Int(merge.cpus.last ?? 0)
        sched = SchedulerAnalysis(maxCPU: maxCPU)
        sched.sink = sink
        hvm.recordClosed = sink != nil
        cpuList = merge.cpus.map { Int($0) }
        vol = [Summarizer.CPUVolume](repeating: Summarizer.CPUVolume(), count: maxCPU + 1)
        from = options.fromTSC ?? 0
        to = options.toTSC ?? UInt64.max
        self.sink = sink
        self.options = options
        // CPU-change records are not visited by the merge; count them here.
        for (cpu, n) in merge.windowsPerCPU {
            vol[Int(cpu)].records += n
            vol[Int(cpu)].bytes += 12 * n
            records += n
        }
    }

    mutating func drainExits() {
        guard let sink, !hvm.closed.isEmpty else { return }
        let svm = options.decidedFlavour?.flavour == .svm || options.hvmFlavour == .svm
        for e in hvm.closed {
            let v = sched.vcpus[e.v]
            if v.dom == SchedulerAnalysis.defaultDomain { continue }
            sink.vmexit(dom: v.dom, vcpu: v.vid, pcpu: v.pcpu, reason: e.reason, name: Names.exitReason(e.reason, svm: svm),
                        rip: e.rip, start: e.start, end: e.end)
        }
        hvm.closed.removeAll(keepingCapacity: true)
    }

    mutating func handle(_ item: MergedItem) {
        switch item {
        case .record(let r, let order):
            let p = Int(r.cpu)
            if order < from || order > to {
                return
            }
            records += 1
            vol[p].records += 1
            vol[p].bytes += r.size
            let event = r.event
            if event == Ev.cpuChange { return }
            if let sink {
                if !begun { begun = true; sink.begin(firstTSC: order, cpus: cpuList) }
                sink.record(r)
                if event == Ev.hvmIntr && r.extraCount >= 1 { sink.irq(cpu: p, tsc: r.tsc, vector: Int(r.extra.w0)) }
                if event == Ev.lostRecords && r.extraCount == 4 {
                    sink.lost(cpu: p, tsc: r.tsc, firstTSC: UInt64(r.extra.w2) | UInt64(r.extra.w3) << 32, count: Int(r.extra.w0))
                }
            }
            if r.hasTSC {
                if vol[p].firstTSC == 0 { vol[p].firstTSC = r.tsc }
                vol[p].lastTSC = r.tsc
                if sched.pcpus[p].firstTSC == 0 { sched.pcpus[p].firstTSC = r.tsc }
            }
            if r.tsc != 0 && order >= firstOrder {
                if firstOrder == 0 { firstOrder = order }
                lastOrder = order
            }
            sched.activate(p)
            sched.offset = r.offset
            guard let cls = TraceClass.of(event) else { return }
            vol[p].classBytes[cls.rawValue] += r.size
            switch cls {
            case .gen:
                if event == Ev.lostRecords {
                    vol[p].lostEvents += 1
                    vol[p].lost += UInt64(r.extra.w0)
                    misc.note("lost-records", offset: r.offset,
                              "CPU \(p) lost \(r.extra.w0) record(s); scheduler state is unknown until the vCPUs are seen running again")
                    sched.lostRecords(r, p: p)
                }
            case .sched:
                // Runstate records drive the model; the verbose SWITCH
                // records repeat what they say (xenalyze ignores them too).
                if (event >> 12) & 0xf == 1 { sched.runstate(r, p: p) }
            case .hvm:
                switch event {
                case Ev.vmxExit, Ev.vmxExit64, Ev.svmExit, Ev.svmExit64:
                    hvm.flavour.see(event: event, reason: r.extra.w0, offset: r.offset)
                    if let v = Summarizer.hvmVCPU(&sched, p: p, r: r, misc: &misc, want: .hvm) {
                        if sched.vcpus[v].dom == SchedulerAnalysis.defaultDomain {
                            // xenalyze times these too (its default domain); say what they are.
                            misc.note("exit-unknown-vcpu", offset: r.offset,
                                      "VMEXIT on pCPU \(p) before a scheduler record named the running vCPU; timed to the pCPU's next VMENTRY, which may be another vCPU's (scheduler class not traced?)")
                        }
                        hvm.exit(r, vcpu: v)
                    }
                case Ev.vmentry:
                    if let v = Summarizer.hvmVCPU(&sched, p: p, r: r, misc: &misc, want: .hvm) { hvm.entry(r, vcpu: v) }
                default: irq.record(r)
                }
            case .pv:
                guard let v = Summarizer.hvmVCPU(&sched, p: p, r: r, misc: &misc, want: .pv) else { break }
                pv.record(r, vcpu: v)
            case .hw:
                if event == Ev.irqHandled { irq.record(r) } else { power.record(r, cpuFirstTSC: vol[p].firstTSC) }
            default: break
            }
            for (v, t) in sched.closeExits { hvm.close(v, t, quietly: true) }
            sched.closeExits.removeAll(keepingCapacity: true)
            for v in sched.lostVCPUs { hvm.forget(v) }
            sched.lostVCPUs.removeAll(keepingCapacity: true)
            drainExits()
        case .lostEnd(let r):
            if r.tsc < from || r.tsc > to { return }
            sched.offset = r.offset
            sched.lostEnd(r, p: Int(r.cpu))
        case .cpuEnd(let cpu, let lastTSC):
            let p = Int(cpu)
            guard sched.pcpus[p].active else { return }
            sched.deactivate(p, lastTSC: min(lastTSC, max(vol[p].lastTSC, 0)))
            for v in sched.lostVCPUs { hvm.forget(v) }
            sched.lostVCPUs.removeAll(keepingCapacity: true)
        }
    }

    mutating func finish(file: String, merge: XenalyzeOrderWalk) -> TraceSummary {
        drainExits()
        let last = vol.map(\.lastTSC)
        power.finish { c in c < last.count ? last[c] : 0 }
        return Summarizer.assemble(file: file, options: options, merge: merge, sched: sched, hvm: hvm, pv: pv, irq: irq,
                                   power: power, vol: vol, misc: misc, firstOrder: firstOrder, lastOrder: lastOrder, records: records)
    }
}

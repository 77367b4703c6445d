import XenTrace

/// The per-CPU half of a summary run: record and byte volume, trace classes,
/// lost records, the time span, IRQs and power states. None of it depends on
/// which vCPU runs where, so it can run on the thread that decodes and merges;
/// it tells the caller which items the ``ModelPass`` still needs.
struct VolumePass {
    var irq = IRQAnalysis()
    var power = PowerAnalysis()
    var vol: [Summarizer.CPUVolume]
    /// `classBytes[cpu * 8 + class]` (flat: no nested array in the hot loop).
    var classBytes: [Int]
    var misc = AnomalyLog()
    var firstOrder: UInt64 = 0, lastOrder: UInt64 = 0
    var records = 0
    var begun = false
    /// Per CPU: its first record was handed on (the model activates the
    /// pCPU on it); so is each record that sets the CPU's first TSC.
    var sentFirst: [Bool]
    let cpuList: [Int]
    let from: UInt64, to: UInt64
    let sink: TimelineSink?

    init(merge: XenalyzeOrderWalk, options: SummaryOptions, sink: TimelineSink?) {
        let maxCPU = Int(merge.cpus.last ?? 0)
        cpuList = merge.cpus.map { Int($0) }
        vol = [Summarizer.CPUVolume](repeating: Summarizer.CPUVolume(), count: maxCPU + 1)
        classBytes = [Int](repeating: 0, count: (maxCPU + 1) * 8)
        sentFirst = [Bool](repeating: false, count: maxCPU + 1)
        from = options.fromTSC ?? 0
        to = options.toTSC ?? UInt64.max
        self.sink = sink
        // CPU-change records are not visited by the merge; count them here.
        for (cpu, n) in merge.windowsPerCPU {
            vol[Int(cpu)].records += n
            vol[Int(cpu)].bytes += 12 * n
            records += n
        }
    }

    /// Takes one item; returns the item the model must see (nil: none).
    @inline(__always)
    mutating func handle(_ item: MergedItem) -> MergedItem? {
        switch item {
        case .record(let r, let order):
            let p = Int(r.cpu)
            if order < from || order > to { return nil }
            records += 1
            vol[p].records += 1
            vol[p].bytes += r.size
            let event = r.event
            if event == Ev.cpuChange { return nil }
            if let sink {
                if !begun { begun = true; sink.begin(firstTSC: order, cpus: cpuList) }
                sink.record(r)
                if event == Ev.hvmIntr && r.extraCount >= 1 { sink.irq(cpu: p, tsc: r.tsc, vector: Int(r.extra.w0)) }
                if event == Ev.lostRecords && r.extraCount == 4 {
                    sink.lost(cpu: p, tsc: r.tsc, firstTSC: UInt64(r.extra.w2) | UInt64(r.extra.w3) << 32, count: Int(r.extra.w0))
                }
            }
            var forward = false
            if !sentFirst[p] { sentFirst[p] = true; forward = true }
            if r.hasTSC {
                // The model sets its pCPU first TSC by the same rule.
                if vol[p].firstTSC == 0 { vol[p].firstTSC = r.tsc; forward = true }
                vol[p].lastTSC = r.tsc
            }
            if r.tsc != 0 && order >= firstOrder {
                if firstOrder == 0 { firstOrder = order }
                lastOrder = order
            }
            guard let cls = TraceClass.of(event) else { return forward ? item : nil }
            classBytes[p &* 8 &+ cls.rawValue] += r.size
            switch cls {
            case .gen:
                if event == Ev.lostRecords {
                    vol[p].lostEvents += 1
                    vol[p].lost += UInt64(r.extra.w0)
                    misc.note("lost-records", offset: r.offset,
                              "CPU \(p) lost \(r.extra.w0) record(s); scheduler state is unknown until the vCPUs are seen running again")
                    forward = true
                }
            case .sched:
                // Runstate records drive the model; the verbose SWITCH
                // records repeat what they say (xenalyze ignores them too).
                if (event >> 12) & 0xf == 1 { forward = true }
            case .hvm:
                switch event {
                case Ev.vmxExit, Ev.vmxExit64, Ev.svmExit, Ev.svmExit64, Ev.vmentry: forward = true
                default: irq.record(r)
                }
            case .pv:
                forward = true
            case .hw:
                if event == Ev.irqHandled { irq.record(r) } else { power.record(r, cpuFirstTSC: vol[p].firstTSC) }
            default: break
            }
            return forward ? item : nil
        case .lostEnd(let r):
            if r.tsc < from || r.tsc > to { return nil }
            return item
        case .cpuEnd(let cpu, let lastTSC):
            // The model closes the pCPU at its last TSC within the window.
            return .cpuEnd(cpu: cpu, lastTSC: min(lastTSC, vol[Int(cpu)].lastTSC))
        }
    }

    mutating func finish() {
        let last = vol.map(\.lastTSC)
        power.finish { c in c < last.count ? last[c] : 0 }
    }
}

/// The global half: the scheduler model (who runs where), HVM exits and PV
/// events attributed to the vCPU running on each pCPU. Needs every item it
/// gets in the walk's global order.
struct ModelPass: MergedItemHandler {
    var sched: SchedulerAnalysis
    var hvm = HVMExitAnalysis()
    var pv = PVAnalysis()
    var misc = AnomalyLog()
    let sink: TimelineSink?
    let options: SummaryOptions

    init(merge: XenalyzeOrderWalk, options: SummaryOptions, sink: TimelineSink?) {
        let maxCPU = Int(merge.cpus.last ?? 0)
        sched = SchedulerAnalysis(maxCPU: maxCPU)
        sched.sink = sink
        hvm.recordClosed = sink != nil
        self.sink = sink
        self.options = options
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

    /// An item the ``VolumePass`` handed on (already inside the window).
    mutating func handle(_ item: MergedItem) {
        switch item {
        case .record(let r, _):
            let p = Int(r.cpu)
            if r.hasTSC && sched.pcpus[p].firstTSC == 0 { sched.pcpus[p].firstTSC = r.tsc }
            sched.activate(p)
            sched.offset = r.offset
            let event = r.event
            guard let cls = TraceClass.of(event) else { return }
            switch cls {
            case .gen:
                if event == Ev.lostRecords { sched.lostRecords(r, p: p) }
            case .sched:
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
                default: break
                }
            case .pv:
                guard let v = Summarizer.hvmVCPU(&sched, p: p, r: r, misc: &misc, want: .pv) else { break }
                pv.record(r, vcpu: v)
            default: break
            }
            if !sched.closeExits.isEmpty {
                for (v, t) in sched.closeExits { hvm.close(v, t, quietly: true) }
                sched.closeExits.removeAll(keepingCapacity: true)
            }
            if !sched.lostVCPUs.isEmpty {
                for v in sched.lostVCPUs { hvm.forget(v) }
                sched.lostVCPUs.removeAll(keepingCapacity: true)
            }
            if sink != nil { drainExits() }
        case .lostEnd(let r):
            sched.offset = r.offset
            sched.lostEnd(r, p: Int(r.cpu))
        case .cpuEnd(let cpu, let lastTSC):
            let p = Int(cpu)
            guard sched.pcpus[p].active else { return }
            sched.deactivate(p, lastTSC: lastTSC)
            for v in sched.lostVCPUs { hvm.forget(v) }
            sched.lostVCPUs.removeAll(keepingCapacity: true)
        }
    }

    mutating func finish(file: String, merge: XenalyzeOrderWalk, volume: VolumePass) -> TraceSummary {
        drainExits()
        var v = volume
        v.finish()
        for p in v.vol.indices {
            for k in 0..<8 { v.vol[p].classBytes[k] = v.classBytes[p * 8 + k] }
        }
        // Distinct kinds in the two logs ("lost-records" is the volume pass's).
        var all = misc
        all.absorb(v.misc)
        return Summarizer.assemble(file: file, options: options, merge: merge, sched: sched, hvm: hvm, pv: pv, irq: v.irq,
                                   power: v.power, vol: v.vol, misc: all, firstOrder: v.firstOrder, lastOrder: v.lastOrder,
                                   records: v.records)
    }
}

/// Both passes on one thread, item by item (`threads: 1`, and whenever a
/// timeline sink must see every call in the original order).
struct SerialRun: MergedItemHandler {
    var volume: VolumePass
    var model: ModelPass
    mutating func handle(_ item: MergedItem) {
        if let m = volume.handle(item) { model.handle(m) }
    }
}

import XenTrace

extension Summarizer {
    /// Turns the passes' state into the plain model.
    static func assemble(file: String, options: SummaryOptions, merge: XenalyzeOrderWalk, sched: SchedulerAnalysis,
                         hvm: HVMExitAnalysis, pv: PVAnalysis, irq: IRQAnalysis, power: PowerAnalysis,
                         vol: [CPUVolume], misc: AnomalyLog, firstOrder: UInt64, lastOrder: UInt64,
                         records: Int) -> TraceSummary {
        let decision = options.decidedFlavour ?? hvm.flavour.decide(given: options.hvmFlavour)
        let svm = decision?.flavour == .svm
        func dist(_ h: LogHistogram, max: UInt64) -> TraceSummary.Distribution {
            TraceSummary.Distribution(count: h.total, percentiles: Percentiles(h, max: max), bins: h.bins)
        }
        func hypercallRows(_ d: [Int: Int]) -> [TraceSummary.Hypercall] {
            d.sorted { $0.key < $1.key }.map { TraceSummary.Hypercall(op: $0.key, name: Names.hypercall($0.key), count: $0.value) }
        }

        // pCPUs
        var pcpus: [TraceSummary.PCPU] = []
        for cpu in merge.cpus {
            let c = Int(cpu), v = vol[c], s = sched.pcpus[c]
            var cb: [String: Int] = [:]
            for k in TraceClass.allCases where v.classBytes[k.rawValue] > 0 { cb[k.name] = v.classBytes[k.rawValue] }
            pcpus.append(TraceSummary.PCPU(cpu: c, records: v.records, bytes: v.bytes, firstTSC: v.firstTSC, lastTSC: v.lastTSC,
                                           classBytes: cb, lostRecordEvents: v.lostEvents, lostRecords: v.lost,
                                           lostCycles: s.lost.cycles, runningCycles: s.running.cycles, idleCycles: s.idle.cycles,
                                           contextSwitches: s.contextSwitches))
        }

        // domains and vCPUs
        let pvPerVCPU = pv.perVCPU()
        var byDomain: [Int: [Int]] = [:]
        for (i, v) in sched.vcpus.enumerated() where v.dom != SchedulerAnalysis.defaultDomain {
            byDomain[v.dom, default: []].append(i)
        }
        var domains: [TraceSummary.Domain] = []
        for (dom, list) in byDomain.sorted(by: { $0.key < $1.key }) {
            var vcpus: [TraceSummary.VCPU] = []
            var running: UInt64 = 0
            var hc: [Int: Int] = [:]
            for i in list.sorted(by: { sched.vcpus[$0].vid < sched.vcpus[$1].vid }) {
                let v = sched.vcpus[i]
                // A vCPU never seen running has nothing to report (xenalyze hides it too).
                if v.state == .initial && v.runs == 0 { continue }
                running &+= v.runstates[0].cycles
                var exits: [TraceSummary.VCPUExit] = []
                exits = hvm.exits(ofVCPU: i).map {
                    TraceSummary.VCPUExit(reason: $0.reason, name: Names.exitReason($0.reason, svm: svm), stats: $0.stats)
                }
                var pvc: TraceSummary.PVCounts? = nil
                if v.dataType == .pv, i < pvPerVCPU.count, let x = pvPerVCPU[i] {
                    var ev: [String: Int] = [:]
                    for (m, n) in x.counts.enumerated() where n > 0 && m != Ev.pvHypercallSubcall && m != Ev.pvHypercallV2 && m != Ev.pvHypercall {
                        ev[Names.pvEvents[m] ?? "pv_\(m)"] = n
                    }
                    let calls = x.counts[Ev.pvHypercall] + x.counts[Ev.pvHypercallV2] + x.counts[Ev.pvHypercallSubcall]
                    if calls > 0 { ev["hypercall"] = calls }
                    for (op, n) in x.hypercalls { hc[op, default: 0] += n }
                    pvc = TraceSummary.PVCounts(events: ev, hypercalls: hypercallRows(x.hypercalls), subcalls: x.counts[Ev.pvHypercallSubcall])
                }
                vcpus.append(TraceSummary.VCPU(
                    vcpu: v.vid,
                    kind: v.dataType == .hvm ? "hvm" : v.dataType == .pv ? "pv" : "unknown",
                    runstates: (0..<5).map { TraceSummary.Runstate(state: Names.runstates[$0], stats: v.runstates[$0]) },
                    runnableAfterWake: v.wake, runnableAfterPreempt: v.preempt, runnableOther: v.otherRunnable,
                    runs: v.runs, migrations: v.migrations, exits: exits, pv: pvc))
            }
            if vcpus.isEmpty { continue }
            let wl = sched.wakeLatencyByDomain[dom].map { h -> TraceSummary.Distribution in
                let mx = list.map { sched.vcpus[$0].wake.maxCycles }.max() ?? 0
                return dist(h, max: mx)
            }
            domains.append(TraceSummary.Domain(domain: dom, name: Names.domain(dom), runningCycles: running, vcpus: vcpus,
                                               hypercalls: hypercallRows(hc), wakeLatency: wl))
        }

        // exits over all vCPUs
        var exits: [TraceSummary.ExitReason] = []
        for (reason, t) in hvm.totals {
            let top = t.rips.pairs.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(10)
                .map { TraceSummary.RIPCount(rip: $0.key, count: $0.value) }
            exits.append(TraceSummary.ExitReason(reason: reason, name: Names.exitReason(reason, svm: svm), stats: t.stats,
                                                 distribution: dist(t.histogram, max: t.stats.maxCycles), topRIPs: top))
        }
        exits.sort { $0.stats.cycles != $1.stats.cycles ? $0.stats.cycles > $1.stats.cycles : $0.reason < $1.reason }

        // IRQs
        func irqRows(_ d: [Int: Int]) -> [TraceSummary.IRQCount] {
            d.map { TraceSummary.IRQCount(cpu: $0.key >> 32, number: $0.key & 0xffff_ffff, count: $0.value) }
                .sorted { ($0.number, $0.cpu) < ($1.number, $1.cpu) }
        }

        // power
        let pw = power.cpus.sorted { $0.key < $1.key }.map { c, s in
            TraceSummary.PowerCPU(cpu: c,
                                  cstates: s.cstates.sorted { $0.key < $1.key }.map { TraceSummary.StateResidency(state: $0.key, stats: $0.value) },
                                  pstates: s.pstates.sorted { $0.key < $1.key }.map { TraceSummary.StateResidency(state: $0.key, stats: $0.value) })
        }

        // top domains
        let busy = domains.filter { $0.domain != SchedulerAnalysis.idleDomain && $0.runningCycles > 0 }
        let all = busy.reduce(UInt64(0)) { $0 &+ $1.runningCycles }
        let top = busy.sorted { $0.runningCycles != $1.runningCycles ? $0.runningCycles > $1.runningCycles : $0.domain < $1.domain }
            .prefix(10).map { TraceSummary.TopDomain(domain: $0.domain, runningCycles: $0.runningCycles, share: all == 0 ? 0 : Double($0.runningCycles) / Double(all)) }

        var anomalies = misc.rows + sched.anomalies.rows + hvm.anomalies.rows + pv.anomalies.rows + power.anomalies.rows
        anomalies.sort { $0.kind < $1.kind }

        var wakeMax: UInt64 = 0
        for v in sched.vcpus where v.dom != SchedulerAnalysis.defaultDomain { wakeMax = max(wakeMax, v.wake.maxCycles) }

        var summary = TraceSummary(
            file: file, cpuHz: options.cpuHz, cpuHzSource: options.cpuHzSource, clock: options.clock,
            fromTSC: options.fromTSC, toTSC: options.toTSC,
            firstTSC: firstOrder, lastTSC: lastOrder, totalCycles: lastOrder &- firstOrder,
            records: records, cpuChangeRecords: merge.windowCount,
            lostRecordEvents: vol.reduce(0) { $0 + $1.lostEvents }, lostRecords: vol.reduce(0) { $0 + $1.lost },
            hvmFlavour: decision?.flavour.rawValue, hvmFlavourReason: decision?.reason,
            pcpus: pcpus, domains: domains, exits: exits,
            wakeLatency: sched.wakeLatency.total > 0 ? dist(sched.wakeLatency, max: wakeMax) : nil,
            irqVectors: irqRows(irq.vectors), irqsHandled: irqRows(irq.handled), power: pw, top: Array(top),
            anomalies: anomalies, diagnostics: merge.diagnostics.map { "\(file): \($0)" })
        // x86-only records say the counter is the TSC when nothing else did.
        if options.clockKind == .unknown, summary.hasX86OnlyEvents { summary.clock?.kind = .tsc }
        return summary
    }
}

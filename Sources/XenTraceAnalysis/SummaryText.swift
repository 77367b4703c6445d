import XenTrace
/// Renders a ``TraceSummary`` as text for people. Sections with nothing to
/// show (e.g. HVM exits on a trace without HVM records) are left out.
public enum SummaryText {
    /// `symbolize`, when given, names each hottest guest RIP (e.g.
    /// `func+0xoff (file:line)`); those RIPs are then listed one per line.
    public static func render(_ s: TraceSummary, symbolize: ((UInt64) -> String)? = nil) -> String {
        var o = ""
        func line(_ x: String = "") { o += x; o += "\n" }
        func sec(_ c: UInt64) -> String { fmt(s.seconds(c), 3) }
        let clock = s.timeClock
        let rate = clock.rateText
        let src: String
        switch s.cpuHzSource {
        case "default": src = "xenalyze's default \(rate); times in seconds are only right if the \(clock.name) runs at that rate (give --cpu-hz or --xl-info)"
        case "xl-info": src = "\(rate) from xl info's cpu_mhz"
        case "--cpu-hz": src = "\(rate) from --cpu-hz"
        default: src = "\(rate) from \(s.cpuHzSource)"
        }
        let unit = clock.kind == .armGenericTimer ? "ticks" : "cyc"
        let ctr = clock.kind == .unknown ? "timestamps" : clock.kind == .tsc ? "TSC" : "CNTPCT"
        line("file \(s.file)")
        line("time base: \(clock.name), \(src)")
        line("span: \(sec(s.totalCycles)) s (\(s.totalCycles) \(clock.unit), \(ctr) \(s.firstTSC)…\(s.lastTSC))" +
             (s.fromTSC != nil || s.toTSC != nil ? ", restricted to \(ctr) \(s.fromTSC.map(String.init) ?? "start")…\(s.toTSC.map(String.init) ?? "end")" : ""))
        if clock.kind == .armGenericTimer {
            line("architecture: arm64 (only common-code events exist there; no x86 sections)")
        }
        line("records: \(s.records) in \(s.cpuChangeRecords) CPU windows on \(s.pcpus.count) pCPUs; lost: \(s.lostRecords) record(s) in \(s.lostRecordEvents) lost-records event(s)")

        line()
        line("== Physical CPUs ==")
        line(row(["cpu", "records", "bytes", "span_s", "lost_recs", "lost_s", "busy_s", "idle_s", "switches"], [4, 9, 10, 9, 10, 8, 9, 9, 9]))
        for c in s.pcpus {
            line(row(["\(c.cpu)", "\(c.records)", "\(c.bytes)", c.spanCycles.map(sec) ?? "?", "\(c.lostRecords)", sec(c.lostCycles),
                      sec(c.runningCycles), sec(c.idleCycles), "\(c.contextSwitches)"], [4, 9, 10, 9, 10, 8, 9, 9, 9]))
        }

        if !s.top.isEmpty {
            line()
            line("== Top domains by CPU time ==")
            for t in s.top {
                line("  \(pad(Names.domain(t.domain), 7)) \(lpad(sec(t.runningCycles), 10)) s  \(lpad(fmt(t.share * 100, 1), 5)) %")
            }
        }

        line()
        line("== Scheduler: runstates per vCPU (intervals, seconds, mean \(clock.unit)) ==")
        for d in s.domains {
            line("\(d.name == "idle" ? "idle domain (32767)" : "domain \(d.domain)"): running \(sec(d.runningCycles)) s")
            for v in d.vcpus {
                var parts: [String] = []
                for r in v.runstates where r.stats.count > 0 {
                    parts.append("\(r.state) \(r.stats.count) \(sec(r.stats.cycles))s \(r.stats.meanCycles)")
                }
                line("  v\(v.vcpu) [\(v.kind)] " + parts.joined(separator: " | "))
                var extra = "      runs \(v.runs), migrations \(v.migrations)"
                if v.runnableAfterWake.count > 0 {
                    extra += ", wake→run \(v.runnableAfterWake.count)× mean \(v.runnableAfterWake.meanCycles) max \(v.runnableAfterWake.maxCycles) \(unit)"
                }
                if v.runnableAfterPreempt.count > 0 {
                    extra += ", preempted→run \(v.runnableAfterPreempt.count)× mean \(v.runnableAfterPreempt.meanCycles) \(unit)"
                }
                line(extra)
            }
        }
        if let w = s.wakeLatency {
            line()
            line("== Scheduler: wake-to-run latency, all vCPUs (\(clock.unit); percentiles are histogram bucket bounds, ≤12.5 % high) ==")
            line("  count \(w.count)  p50 \(w.percentiles.p50)  p90 \(w.percentiles.p90)  p99 \(w.percentiles.p99)  max \(w.percentiles.max)")
            line(histogram(w.bins))
        }

        if !s.exits.isEmpty {
            line()
            line("== HVM exits (\(s.hvmFlavour ?? "?")), exit → next entry, all vCPUs ==")
            if let why = s.hvmFlavourReason { line("exit reasons named as \(s.hvmFlavour == "svm" ? "AMD SVM exit codes" : "Intel VMX basic exit reasons"): \(why)") }
            line(row(["reason", "count", "total_s", "%span", "mean_cyc", "p50", "p90", "p99", "max"], [-28, 9, 9, 7, 10, 10, 10, 10, 12]))
            for e in s.exits {
                let pct = s.totalCycles == 0 ? 0 : Double(e.stats.cycles) * 100 / Double(s.totalCycles)
                line(row(["\(e.name) (\(e.reason))", "\(e.stats.events)", sec(e.stats.cycles), fmt(pct, 2), "\(e.stats.meanCycles)",
                          "\(e.distribution.percentiles.p50)", "\(e.distribution.percentiles.p90)", "\(e.distribution.percentiles.p99)",
                          "\(e.stats.maxCycles)"], [-28, 9, 9, 7, 10, 10, 10, 10, 12]))
                if !e.topRIPs.isEmpty, let symbolize {
                    line("      hottest RIPs:")
                    for r in e.topRIPs.prefix(5) { line("        0x\(String(r.rip, radix: 16))×\(r.count)  \(symbolize(r.rip))") }
                } else if !e.topRIPs.isEmpty {
                    line("      hottest RIPs: " + e.topRIPs.prefix(5).map { "0x\(String($0.rip, radix: 16))×\($0.count)" }.joined(separator: " "))
                }
            }
            line()
            line("== HVM exits per vCPU ==")
            for d in s.domains {
                for v in d.vcpus where !v.exits.isEmpty {
                    line("  d\(d.domain)v\(v.vcpu):")
                    for e in v.exits.sorted(by: { $0.stats.cycles > $1.stats.cycles }) {
                        line("    \(pad(e.name, 28)) \(lpad("\(e.stats.events)", 8)) \(lpad(sec(e.stats.cycles), 9)) s  mean \(e.stats.meanCycles) cyc")
                    }
                }
            }
        }

        let pvDomains = s.domains.filter { !$0.hypercalls.isEmpty || $0.vcpus.contains { $0.pv != nil } }
        if !pvDomains.isEmpty {
            line()
            line("== PV: hypercalls and events per domain ==")
            for d in pvDomains {
                var ev: [String: Int] = [:]
                var sub = 0
                for v in d.vcpus { if let p = v.pv { for (k, n) in p.events { ev[k, default: 0] += n }; sub += p.subcalls } }
                line("domain \(d.domain): " + ev.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + (sub > 0 ? " (of which \(sub) in multicalls)" : ""))
                for h in d.hypercalls.sorted(by: { $0.count > $1.count }) {
                    line("    \(pad(h.name, 30)) [\(lpad("\(h.op)", 2))] \(lpad("\(h.count)", 9))")
                }
            }
        }

        if !s.irqVectors.isEmpty || !s.irqsHandled.isEmpty {
            line()
            line("== Interrupts ==")
            if !s.irqVectors.isEmpty {
                line("  external-interrupt exits by vector: " + s.irqVectors.map { "v\($0.number)@cpu\($0.cpu) \($0.count)" }.joined(separator: ", "))
            }
            if !s.irqsHandled.isEmpty {
                line("  IRQs handled by Xen: " + s.irqsHandled.map { "irq\($0.number)@cpu\($0.cpu) \($0.count)" }.joined(separator: ", "))
            }
        }

        if !s.power.isEmpty {
            line()
            line("== Power: C-state and P-state residency ==")
            for c in s.power {
                let cs = c.cstates.map { "C\($0.state) \($0.stats.count)× \(sec($0.stats.cycles))s" }.joined(separator: ", ")
                let ps = c.pstates.map { "\($0.state) MHz \(sec($0.stats.cycles))s" }.joined(separator: ", ")
                line("  cpu\(c.cpu): " + [cs, ps].filter { !$0.isEmpty }.joined(separator: " | "))
            }
        }

        if !s.anomalies.isEmpty {
            line()
            line("== Not accounted for (kind: count, first offsets) ==")
            for a in s.anomalies {
                line("  \(a.kind): \(a.count) at " + a.offsets.map { "\($0)" }.joined(separator: ", ") + (a.count > a.offsets.count ? ", …" : ""))
                line("      e.g. \(a.example)")
            }
        }
        if !s.diagnostics.isEmpty {
            line()
            line("== Damaged input ==")
            for d in s.diagnostics.prefix(20) { line("  \(d)") }
        }
        return o
    }

    static func histogram(_ bins: [HistogramBin]) -> String {
        let mx = bins.map(\.count).max() ?? 1
        return bins.map { b in
            let bar = String(repeating: "#", count: max(1, Int(Double(b.count) * 40 / Double(mx))))
            return "  \(lpad("\(b.low)", 12))…\(pad("\(b.high)", 12)) \(lpad("\(b.count)", 8)) \(bar)"
        }.joined(separator: "\n")
    }
}

/// Fixed-point formatting without Foundation.
func fmt(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "\(v)" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (abs(v) * p).rounded()
    // Beyond UInt64 (absurd times from damaged TSCs): plain Double text.
    guard r < 18_000_000_000_000_000_000 else { return "\(v)" }
    // Integer split: r / p in floating point can round up and make i * p > r.
    let n = UInt64(r), i = n / UInt64(p), f = n % UInt64(p)
    var fs = String(f)
    while fs.count < digits { fs = "0" + fs }
    return (v < 0 && r > 0 ? "-" : "") + String(i) + (digits > 0 ? "." + fs : "")
}
func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
/// A table row: positive widths right-align, negative left-align.
func row(_ cells: [String], _ widths: [Int]) -> String {
    zip(cells, widths).map { $1 < 0 ? pad($0, -$1) : lpad($0, $1) }.joined(separator: " ")
}

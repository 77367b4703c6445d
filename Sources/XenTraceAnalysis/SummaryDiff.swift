/// `trace diff A B`: what changed between two summaries. Counts are also
/// given per second of trace, since two traces rarely have the same length.
public struct SummaryDiff: Sendable, Codable {
    public static let schema = "xenscope.trace-diff/1"
    public var schema = SummaryDiff.schema
    public var a: String
    public var b: String
    public var spanSecondsA: Double
    public var spanSecondsB: Double
    public var exits: [Row]
    public var domains: [Row]
    public var hypercalls: [Row]
    public var wakeLatency: [Row]

    /// One compared figure: counts, rates per second, mean cycles, totals.
    public struct Row: Sendable, Codable {
        public var key: String
        public var countA: Int
        public var countB: Int
        public var perSecondA: Double
        public var perSecondB: Double
        public var meanCyclesA: UInt64
        public var meanCyclesB: UInt64
        public var totalSecondsA: Double
        public var totalSecondsB: Double
        /// B/A of the mean (1 = unchanged; 0 when A has none).
        public var meanRatio: Double
        /// B/A of the rate per second.
        public var rateRatio: Double
    }

    public init(_ x: TraceSummary, _ y: TraceSummary) {
        a = x.file; b = y.file
        spanSecondsA = x.seconds(x.totalCycles); spanSecondsB = y.seconds(y.totalCycles)
        let sa = max(spanSecondsA, 1e-9), sb = max(spanSecondsB, 1e-9)
        func row(_ key: String, _ ca: Int, _ cb: Int, _ cyA: UInt64, _ cyB: UInt64, _ nA: Int, _ nB: Int) -> Row {
            let ma = nA == 0 ? 0 : cyA / UInt64(nA), mb = nB == 0 ? 0 : cyB / UInt64(nB)
            let ra = Double(ca) / sa, rb = Double(cb) / sb
            return Row(key: key, countA: ca, countB: cb, perSecondA: ra, perSecondB: rb, meanCyclesA: ma, meanCyclesB: mb,
                       totalSecondsA: x.seconds(cyA), totalSecondsB: y.seconds(cyB),
                       meanRatio: ma == 0 ? 0 : Double(mb) / Double(ma), rateRatio: ra == 0 ? 0 : rb / ra)
        }
        /// Growth of the share of trace time (exits and domains, largest first).
        func timeGrowth(_ r: Row) -> Double { r.totalSecondsB / sb - r.totalSecondsA / sa }
        // Exits by name, over all vCPUs; sorted by growth of total time.
        var ex: [String: (CycleStats, CycleStats)] = [:]
        for e in x.exits { ex[e.name, default: (CycleStats(), CycleStats())].0 = e.stats }
        for e in y.exits { ex[e.name, default: (CycleStats(), CycleStats())].1 = e.stats }
        exits = SummaryDiff.ranked(ex.map { row($0.key, $0.value.0.events, $0.value.1.events, $0.value.0.cycles, $0.value.1.cycles, $0.value.0.count, $0.value.1.count) }, by: timeGrowth)
        // Domains: running time and intervals.
        var dm: [String: (Int, Int, UInt64, UInt64)] = [:]
        for d in x.domains { let n = d.vcpus.reduce(0) { $0 + $1.runstates[0].stats.count }; dm[d.name, default: (0, 0, 0, 0)].0 = n; dm[d.name]!.2 = d.runningCycles }
        for d in y.domains { let n = d.vcpus.reduce(0) { $0 + $1.runstates[0].stats.count }; dm[d.name, default: (0, 0, 0, 0)].1 = n; dm[d.name]!.3 = d.runningCycles }
        domains = SummaryDiff.ranked(dm.map { row($0.key, $0.value.0, $0.value.1, $0.value.2, $0.value.3, $0.value.0, $0.value.1) }, by: timeGrowth)
        // Hypercalls by name over all domains.
        var hc: [String: (Int, Int)] = [:]
        for d in x.domains { for h in d.hypercalls { hc[h.name, default: (0, 0)].0 += h.count } }
        for d in y.domains { for h in d.hypercalls { hc[h.name, default: (0, 0)].1 += h.count } }
        hypercalls = SummaryDiff.ranked(hc.map { row($0.key, $0.value.0, $0.value.1, 0, 0, 0, 0) }) { $0.perSecondB - $0.perSecondA }
        // Wake-to-run latency per domain (mean over its vCPUs' wake intervals).
        var wl: [String: (CycleStats, CycleStats)] = [:]
        for d in x.domains where d.domain != 32767 { for v in d.vcpus { wl[d.name, default: (CycleStats(), CycleStats())].0.merge(v.runnableAfterWake) } }
        for d in y.domains where d.domain != 32767 { for v in d.vcpus { wl[d.name, default: (CycleStats(), CycleStats())].1.merge(v.runnableAfterWake) } }
        wakeLatency = SummaryDiff.ranked(wl.filter { $0.value.0.count + $0.value.1.count > 0 }
            .map { row($0.key, $0.value.0.count, $0.value.1.count, $0.value.0.cycles, $0.value.1.cycles, $0.value.0.count, $0.value.1.count) }) { $0.meanRatio }
    }

    /// Rows by `value`, largest first; equal values by key in byte order.
    /// The rows come from dictionaries, whose order changes from process to
    /// process (hash seeds), so without the key the output of two runs on
    /// the same inputs could differ wherever two rows tie (e.g. two domains
    /// that are new in B).
    static func ranked(_ rows: [Row], by value: (Row) -> Double) -> [Row] {
        rows.map { (value($0), $0) }
            .sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1.key.utf8.lexicographicallyPrecedes($1.1.key.utf8) }
            .map(\.1)
    }

    /// Streams the stable JSON form (schema `xenscope.trace-diff/1`, docs/trace-diff.md):
    /// the text `JSONEncoder` with `.sortedKeys` and `.prettyPrinted` writes
    /// (slashes escaped, as it always has), without building it as a tree.
    public func writeJSON(to w: JSONWriter) { SummaryDiff.table.write(self, to: w) }

    static let table = JSONColumns<SummaryDiff>([
        .string("a") { $0.a },
        .string("b") { $0.b },
        .array("domains", rowTable) { $0.domains },
        .array("exits", rowTable) { $0.exits },
        .array("hypercalls", rowTable) { $0.hypercalls },
        .string("schema") { $0.schema },
        .double("spanSecondsA") { $0.spanSecondsA },
        .double("spanSecondsB") { $0.spanSecondsB },
        .array("wakeLatency", rowTable) { $0.wakeLatency },
    ])

    static let rowTable = JSONColumns<Row>([
        .int("countA") { $0.countA },
        .int("countB") { $0.countB },
        .string("key") { $0.key },
        .int("meanCyclesA") { $0.meanCyclesA },
        .int("meanCyclesB") { $0.meanCyclesB },
        .double("meanRatio") { $0.meanRatio },
        .double("perSecondA") { $0.perSecondA },
        .double("perSecondB") { $0.perSecondB },
        .double("rateRatio") { $0.rateRatio },
        .double("totalSecondsA") { $0.totalSecondsA },
        .double("totalSecondsB") { $0.totalSecondsB },
    ])

    /// Text for people: what got slower first.
    public func render() -> String {
        var o = "A: \(a) (\(fmt(spanSecondsA, 3)) s)\nB: \(b) (\(fmt(spanSecondsB, 3)) s)\nrates are per second of trace; ratio = B/A\n"
        func table(_ title: String, _ rows: [Row], mean: Bool) {
            guard !rows.isEmpty else { return }
            o += "\n== \(title) ==\n"
            let widths = [-28, 9, 9, 10, 10, 7] + (mean ? [11, 11, 7, 10, 10] : [])
            o += row(["", "count A", "count B", "/s A", "/s B", "rate×"] + (mean ? ["mean cyc A", "mean cyc B", "mean×", "total s A", "total s B"] : []), widths) + "\n"
            for r in rows {
                var cells = [r.key, "\(r.countA)", "\(r.countB)", fmt(r.perSecondA, 1), fmt(r.perSecondB, 1), r.countA == 0 ? "new" : fmt(r.rateRatio, 2)]
                if mean { cells += ["\(r.meanCyclesA)", "\(r.meanCyclesB)", r.meanCyclesA == 0 ? "-" : fmt(r.meanRatio, 2), fmt(r.totalSecondsA, 3), fmt(r.totalSecondsB, 3)] }
                o += row(cells, widths) + "\n"
            }
        }
        let slower = exits.filter { $0.meanCyclesA > 0 && $0.meanRatio >= 1.1 && $0.countB >= 10 }
        let grew = exits.filter { $0.countA > 0 && $0.rateRatio >= 1.2 && $0.countB >= 10 }
        if !slower.isEmpty || !grew.isEmpty || wakeLatency.contains(where: { $0.meanRatio >= 1.1 }) {
            o += "\n== In short ==\n"
            for r in slower { o += "  exit \(r.key) got slower: mean \(r.meanCyclesA) → \(r.meanCyclesB) cycles (×\(fmt(r.meanRatio, 2)))\n" }
            for r in grew { o += "  exit \(r.key) grew: \(fmt(r.perSecondA, 1)) → \(fmt(r.perSecondB, 1)) per second (×\(fmt(r.rateRatio, 2)))\n" }
            for r in wakeLatency where r.meanRatio >= 1.1 && r.countB > 0 {
                o += "  \(r.key) waits longer to run after a wake-up: mean \(r.meanCyclesA) → \(r.meanCyclesB) cycles (×\(fmt(r.meanRatio, 2)))\n"
            }
        }
        table("HVM exits (by growth of time share)", exits, mean: true)
        table("Domains: running intervals and time", domains, mean: true)
        table("Wake-to-run latency per domain", wakeLatency, mean: true)
        table("Hypercalls (by growth of rate)", hypercalls, mean: false)
        return o
    }
}

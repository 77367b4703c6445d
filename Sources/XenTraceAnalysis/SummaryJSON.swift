import Foundation

/// The stable JSON form of a ``TraceSummary`` (docs/summary-json.md):
/// keys sorted, so output is byte-for-byte reproducible.
///
/// Written member by member through a streaming ``JSONWriter`` rather than
/// `JSONEncoder`, which builds the whole document as a tree first (≈ 245 MB
/// peak for 8,000 vCPUs). The text is exactly what `JSONEncoder` with
/// `.sortedKeys` writes for the same model (a test and the analysis fuzzer's
/// cross-check compare the two), so `decode` reads it back with the
/// synthesized `Codable` conformance.
public enum SummaryJSON {
    /// Streams `s` into `w` (keys in byte order, as `.sortedKeys`).
    public static func write(_ s: TraceSummary, to w: JSONWriter) {
        w.beginObject()
        w.array("anomalies", s.anomalies) { a in
            w.beginObject()
            w.field("count", a.count)
            w.field("example", a.example)
            w.field("kind", a.kind)
            w.array("offsets", a.offsets) { w.int($0) }
            w.endObject()
        }
        if let c = s.clock {
            w.object("clock") {
                w.field("hz", c.hz)
                w.field("hzSource", c.hzSource)
                w.field("kind", c.kind.rawValue)
            }
        }
        w.field("cpuChangeRecords", s.cpuChangeRecords)
        w.field("cpuHz", s.cpuHz)
        w.field("cpuHzSource", s.cpuHzSource)
        w.array("diagnostics", s.diagnostics) { w.string($0) }
        w.array("domains", s.domains) { d in
            w.beginObject()
            w.field("domain", d.domain)
            w.array("hypercalls", d.hypercalls) { hypercall($0, w) }
            w.field("name", d.name)
            w.field("runningCycles", d.runningCycles)
            w.array("vcpus", d.vcpus) { vcpu($0, w) }
            if let l = d.wakeLatency { w.key("wakeLatency"); distribution(l, w) }
            w.endObject()
        }
        w.array("exits", s.exits) { e in
            w.beginObject()
            w.key("distribution"); distribution(e.distribution, w)
            w.field("name", e.name)
            w.field("reason", e.reason)
            w.key("stats"); stats(e.stats, w)
            w.array("topRIPs", e.topRIPs) { r in
                w.beginObject()
                w.field("count", r.count)
                w.field("rip", r.rip)
                w.endObject()
            }
            w.endObject()
        }
        w.field("file", s.file)
        w.field("firstTSC", s.firstTSC)
        if let f = s.fromTSC { w.field("fromTSC", f) }
        if let h = s.hvmFlavour { w.field("hvmFlavour", h) }
        if let h = s.hvmFlavourReason { w.field("hvmFlavourReason", h) }
        w.array("irqVectors", s.irqVectors) { irq($0, w) }
        w.array("irqsHandled", s.irqsHandled) { irq($0, w) }
        w.field("lastTSC", s.lastTSC)
        w.field("lostRecordEvents", s.lostRecordEvents)
        w.field("lostRecords", s.lostRecords)
        w.array("pcpus", s.pcpus) { p in
            w.beginObject()
            w.field("bytes", p.bytes)
            w.object("classBytes") { for (k, v) in sortedByKey(p.classBytes) { w.field(k, v) } }
            w.field("contextSwitches", p.contextSwitches)
            w.field("cpu", p.cpu)
            w.field("firstTSC", p.firstTSC)
            w.field("idleCycles", p.idleCycles)
            w.field("lastTSC", p.lastTSC)
            w.field("lostCycles", p.lostCycles)
            w.field("lostRecordEvents", p.lostRecordEvents)
            w.field("lostRecords", p.lostRecords)
            w.field("records", p.records)
            w.field("runningCycles", p.runningCycles)
            w.endObject()
        }
        w.array("power", s.power) { p in
            w.beginObject()
            w.field("cpu", p.cpu)
            w.array("cstates", p.cstates) { residency($0, w) }
            w.array("pstates", p.pstates) { residency($0, w) }
            w.endObject()
        }
        w.field("records", s.records)
        w.field("schema", s.schema)
        if let t = s.toTSC { w.field("toTSC", t) }
        w.array("top", s.top) { t in
            w.beginObject()
            w.field("domain", t.domain)
            w.field("runningCycles", t.runningCycles)
            w.field("share", t.share)
            w.endObject()
        }
        w.field("totalCycles", s.totalCycles)
        if let l = s.wakeLatency { w.key("wakeLatency"); distribution(l, w) }
        w.endObject()
    }

    /// The whole document as a string (tests, the fuzzer's cross-check, small summaries).
    public static func encode(_ s: TraceSummary, pretty: Bool = true) throws -> String {
        var bytes: [UInt8] = []
        let w = JSONWriter(pretty: pretty) { bytes.append(contentsOf: $0) }
        write(s, to: w)
        w.flush()
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What `JSONEncoder` makes of the model: the reference the streamed text must equal.
    public static func foundationEncode(_ s: TraceSummary, pretty: Bool = true) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(s), as: UTF8.self)
    }

    public static func decode(_ data: Data) throws -> TraceSummary {
        try JSONDecoder().decode(TraceSummary.self, from: data)
    }

    // MARK: members

    /// Dictionary members in byte order of their keys (`.sortedKeys`).
    static func sortedByKey<V>(_ d: [String: V]) -> [(key: String, value: V)] {
        d.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    static func stats(_ c: CycleStats, _ w: JSONWriter) {
        w.beginObject()
        w.field("count", c.count)
        w.field("cycles", c.cycles)
        w.field("events", c.events)
        w.field("maxCycles", c.maxCycles)
        w.field("minCycles", c.minCycles)
        w.endObject()
    }

    static func distribution(_ d: TraceSummary.Distribution, _ w: JSONWriter) {
        w.beginObject()
        w.array("bins", d.bins) { b in
            w.beginObject()
            w.field("count", b.count)
            w.field("high", b.high)
            w.field("low", b.low)
            w.endObject()
        }
        w.field("count", d.count)
        w.object("percentiles") {
            w.field("max", d.percentiles.max)
            w.field("p50", d.percentiles.p50)
            w.field("p90", d.percentiles.p90)
            w.field("p99", d.percentiles.p99)
        }
        w.endObject()
    }

    static func hypercall(_ h: TraceSummary.Hypercall, _ w: JSONWriter) {
        w.beginObject()
        w.field("count", h.count)
        w.field("name", h.name)
        w.field("op", h.op)
        w.endObject()
    }

    static func irq(_ i: TraceSummary.IRQCount, _ w: JSONWriter) {
        w.beginObject()
        w.field("count", i.count)
        w.field("cpu", i.cpu)
        w.field("number", i.number)
        w.endObject()
    }

    static func residency(_ r: TraceSummary.StateResidency, _ w: JSONWriter) {
        w.beginObject()
        w.field("state", r.state)
        w.key("stats"); stats(r.stats, w)
        w.endObject()
    }

    static func vcpu(_ v: TraceSummary.VCPU, _ w: JSONWriter) {
        w.beginObject()
        w.array("exits", v.exits) { e in
            w.beginObject()
            w.field("name", e.name)
            w.field("reason", e.reason)
            w.key("stats"); stats(e.stats, w)
            w.endObject()
        }
        w.field("kind", v.kind)
        w.field("migrations", v.migrations)
        if let p = v.pv {
            w.object("pv") {
                w.object("events") { for (k, n) in sortedByKey(p.events) { w.field(k, n) } }
                w.array("hypercalls", p.hypercalls) { hypercall($0, w) }
                w.field("subcalls", p.subcalls)
            }
        }
        w.key("runnableAfterPreempt"); stats(v.runnableAfterPreempt, w)
        w.key("runnableAfterWake"); stats(v.runnableAfterWake, w)
        w.key("runnableOther"); stats(v.runnableOther, w)
        w.field("runs", v.runs)
        w.array("runstates", v.runstates) { r in
            w.beginObject()
            w.field("state", r.state)
            w.key("stats"); stats(r.stats, w)
            w.endObject()
        }
        w.field("vcpu", v.vcpu)
        w.endObject()
    }
}

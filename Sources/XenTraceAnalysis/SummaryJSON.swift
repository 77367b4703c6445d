import BinaryIO
import Foundation
import XenTrace

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
    public static func write(_ s: TraceSummary, to w: JSONWriter) { summary.write(s, to: w) }

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

    /// Reads a saved summary from memory (``SummaryJSONReader``; errors name
    /// `file` and the byte offset).
    public static func decode(bytes: some ByteViewSource, file: String) throws -> TraceSummary {
        var reader = SummaryJSONReader(bytes.byteView, file: file)
        return try reader.document()
    }

    /// Reads a saved summary file through a memory mapping: no copy of the
    /// text and no document tree, only the model itself.
    public static func decode(path: String) throws -> TraceSummary {
        try decode(mapped: MappedFile(path: path))
    }

    /// Reads a mapped summary file, giving its pages back as they are read.
    public static func decode(mapped m: MappedFile) throws -> TraceSummary {
        m.adviseSequential()
        return try m.withView { b in
            var reader = SummaryJSONReader(b, file: m.path, mapped: m)
            return try reader.document()
        }
    }

    /// Reads a saved summary held in memory; errors name `file` and the byte offset.
    public static func decode(_ data: Data, file: String = "<memory>") throws -> TraceSummary {
        try data.withByteView { try decode(bytes: $0, file: file) }
    }

    /// What `JSONDecoder` makes of the text (the synthesized `Decodable`
    /// conformance): the reference the pull reader must agree with in tests.
    public static func foundationDecode(_ data: Data) throws -> TraceSummary {
        try JSONDecoder().decode(TraceSummary.self, from: data)
    }

    // MARK: tables (each type's members; JSONColumns writes them in key order)

    typealias S = TraceSummary

    static let summary = JSONColumns<S>([
        .array("anomalies", anomaly) { $0.anomalies },
        .object("clock", clock) { $0.clock },
        .int("cpuChangeRecords") { $0.cpuChangeRecords },
        .double("cpuHz") { $0.cpuHz },
        .string("cpuHzSource") { $0.cpuHzSource },
        .strings("diagnostics") { $0.diagnostics },
        .array("domains", domain) { $0.domains },
        .array("exits", exitReason) { $0.exits },
        .string("file") { $0.file },
        .int("firstTSC") { $0.firstTSC },
        .int("fromTSC") { $0.fromTSC },
        .string("hvmFlavour") { $0.hvmFlavour },
        .string("hvmFlavourReason") { $0.hvmFlavourReason },
        .array("irqVectors", irq) { $0.irqVectors },
        .array("irqsHandled", irq) { $0.irqsHandled },
        .int("lastTSC") { $0.lastTSC },
        .int("lostRecordEvents") { $0.lostRecordEvents },
        .int("lostRecords") { $0.lostRecords },
        .array("pcpus", pcpu) { $0.pcpus },
        .array("power", power) { $0.power },
        .int("records") { $0.records },
        .string("schema") { $0.schema },
        .int("toTSC") { $0.toTSC },
        .array("top", top) { $0.top },
        .int("totalCycles") { $0.totalCycles },
        .object("wakeLatency", distribution) { $0.wakeLatency },
    ])

    static let anomaly = JSONColumns<Anomaly>([
        .int("count") { $0.count }, .string("example") { $0.example }, .string("kind") { $0.kind }, .ints("offsets") { $0.offsets },
    ])

    static let clock = JSONColumns<TraceClock>([
        .double("hz") { $0.hz }, .string("hzSource") { $0.hzSource }, .string("kind") { $0.kind.rawValue },
    ])

    static let domain = JSONColumns<S.Domain>([
        .int("domain") { $0.domain },
        .array("hypercalls", hypercall) { $0.hypercalls },
        .string("name") { $0.name },
        .int("runningCycles") { $0.runningCycles },
        .array("vcpus", vcpu) { $0.vcpus },
        .object("wakeLatency", distribution) { $0.wakeLatency },
    ])

    static let exitReason = JSONColumns<S.ExitReason>([
        .object("distribution", distribution) { $0.distribution },
        .int("reason") { $0.reason },
        .string("name") { $0.name },
        .object("stats", stats) { $0.stats },
        .array("topRIPs", rip) { $0.topRIPs },
    ])

    static let rip = JSONColumns<S.RIPCount>([.int("count") { $0.count }, .int("rip") { $0.rip }])

    static let pcpu = JSONColumns<S.PCPU>([
        .int("bytes") { $0.bytes },
        .counts("classBytes") { $0.classBytes },
        .int("contextSwitches") { $0.contextSwitches },
        .int("cpu") { $0.cpu },
        .int("firstTSC") { $0.firstTSC },
        .int("idleCycles") { $0.idleCycles },
        .int("lastTSC") { $0.lastTSC },
        .int("lostCycles") { $0.lostCycles },
        .int("lostRecordEvents") { $0.lostRecordEvents },
        .int("lostRecords") { $0.lostRecords },
        .int("records") { $0.records },
        .int("runningCycles") { $0.runningCycles },
    ])

    static let power = JSONColumns<S.PowerCPU>([
        .int("cpu") { $0.cpu }, .array("cstates", residency) { $0.cstates }, .array("pstates", residency) { $0.pstates },
    ])

    static let top = JSONColumns<S.TopDomain>([
        .int("domain") { $0.domain }, .int("runningCycles") { $0.runningCycles }, .double("share") { $0.share },
    ])

    static let stats = JSONColumns<CycleStats>([
        .int("count") { $0.count },
        .int("cycles") { $0.cycles },
        .int("events") { $0.events },
        .int("maxCycles") { $0.maxCycles },
        .int("minCycles") { $0.minCycles },
    ])

    static let distribution = JSONColumns<S.Distribution>([
        .array("bins", bin) { $0.bins }, .int("count") { $0.count }, .object("percentiles", percentiles) { $0.percentiles },
    ])

    static let bin = JSONColumns<HistogramBin>([.int("count") { $0.count }, .int("high") { $0.high }, .int("low") { $0.low }])

    static let percentiles = JSONColumns<Percentiles>([
        .int("max") { $0.max }, .int("p50") { $0.p50 }, .int("p90") { $0.p90 }, .int("p99") { $0.p99 },
    ])

    static let hypercall = JSONColumns<S.Hypercall>([.int("count") { $0.count }, .string("name") { $0.name }, .int("op") { $0.op }])

    static let irq = JSONColumns<S.IRQCount>([.int("count") { $0.count }, .int("cpu") { $0.cpu }, .int("number") { $0.number }])

    /// A state with its cycle statistics (vCPU runstates, C- and P-states).
    static let runstate = JSONColumns<S.Runstate>([.string("state") { $0.state }, .object("stats", stats) { $0.stats }])
    static let residency = JSONColumns<S.StateResidency>([.int("state") { $0.state }, .object("stats", stats) { $0.stats }])

    static let vcpu = JSONColumns<S.VCPU>([
        .array("exits", vcpuExit) { $0.exits },
        .string("kind") { $0.kind },
        .int("migrations") { $0.migrations },
        .object("pv", pv) { $0.pv },
        .object("runnableAfterPreempt", stats) { $0.runnableAfterPreempt },
        .object("runnableAfterWake", stats) { $0.runnableAfterWake },
        .object("runnableOther", stats) { $0.runnableOther },
        .int("runs") { $0.runs },
        .array("runstates", runstate) { $0.runstates },
        .int("vcpu") { $0.vcpu },
    ])

    static let vcpuExit = JSONColumns<S.VCPUExit>([.string("name") { $0.name }, .int("reason") { $0.reason }, .object("stats", stats) { $0.stats }])

    static let pv = JSONColumns<S.PVCounts>([
        .counts("events") { $0.events }, .array("hypercalls", hypercall) { $0.hypercalls }, .int("subcalls") { $0.subcalls },
    ])
}

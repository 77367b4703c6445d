import Foundation
import Testing
import XenTrace
import XenTraceAnalysis

/// A small synthesizer trace: HVM and PV guests, C-/P-states, lost records.
func synthSummary(size: Int = 2 << 20, seed: UInt64 = 2) -> TraceSummary {
    let o = TraceSynthesizer.Options(size: size, cpus: 4, domains: 12, seed: seed)
    var bytes: [UInt8] = []
    _ = TraceSynthesizer(o).generate { bytes.append(contentsOf: $0) }
    return bytes.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "synth/\(seed).xentrace") }
}

/// The streaming writer produces exactly the text JSONEncoder did (so
/// `--json` output did not change when it replaced JSONEncoder), and every
/// key real output has is documented.
@Suite struct JSONWriterTests {
    /// A model with the awkward cases: escapes, empty containers, nested
    /// arrays, doubles of every shape, absent optionals, extreme integers.
    struct Probe: Codable {
        var s: String
        var path = "/tmp/a/b.xentrace"
        var doubles: [Double] = [2.4e9, 0.1, 1e-7, 1e21, 123456789.125, 0, -0.0, 1.7976931348623157e308, 62.5e6, 1.0 / 3, -2.5, Double.leastNonzeroMagnitude]
        var empty: [Int] = []
        var emptyMap: [String: Int] = [:]
        var nested: [[Int]] = [[], [1, 2], [3]]
        var map = ["b": 1, "B": 2, "a10": 3, "a9": 4, "_x": 5, "Z": 6, "é": 7]
        var big: UInt64 = .max
        var small: Int = .min
        var flag = true
        var absent: Int? = nil
        var present: Int? = 7
    }

    func stream(_ p: Probe, pretty: Bool, escapeSlashes: Bool) -> String {
        var out: [UInt8] = []
        // A tiny buffer: the text is handed over in many pieces.
        let w = JSONWriter(pretty: pretty, escapeSlashes: escapeSlashes, bufferSize: 1) { out.append(contentsOf: $0) }
        w.beginObject()
        w.field("big", p.big)
        w.array("doubles", p.doubles) { w.double($0) }
        w.array("empty", p.empty) { w.int($0) }
        w.object("emptyMap") {}
        w.field("flag", p.flag)
        w.object("map") {
            for k in p.map.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { w.field(k, p.map[k]!) }
        }
        w.array("nested", p.nested) { inner in w.beginArray(); for v in inner { w.int(v) }; w.endArray() }
        w.field("path", p.path)
        w.field("present", p.present!)
        w.field("s", p.s)
        w.field("small", p.small)
        w.endObject()
        #expect(w.depth == 0)
        w.flush()
        return String(decoding: out, as: UTF8.self)
    }

    func foundation(_ p: Probe, pretty: Bool, escapeSlashes: Bool) throws -> String {
        let e = JSONEncoder()
        var f: JSONEncoder.OutputFormatting = [.sortedKeys]
        if pretty { f.insert(.prettyPrinted) }
        if !escapeSlashes { f.insert(.withoutEscapingSlashes) }
        e.outputFormatting = f
        return String(decoding: try e.encode(p), as: UTF8.self)
    }

    @Test func matchesJSONEncoderByteForByte() throws {
        // Every control character, quote, backslash, slash, DEL, non-ASCII, a line separator.
        var s = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) })
        s += "\"\\/\u{7f}é€\u{2028}😀 end"
        let p = Probe(s: s)
        for pretty in [true, false] {
            for esc in [true, false] {
                let mine = stream(p, pretty: pretty, escapeSlashes: esc)
                let theirs = try foundation(p, pretty: pretty, escapeSlashes: esc)
                #expect(mine == theirs, "pretty \(pretty) escapeSlashes \(esc):\n\(mine)\n---\n\(theirs)")
                // And it parses back to the same values.
                let back = try JSONDecoder().decode(Probe.self, from: Data(mine.utf8))
                #expect(back.s == s && back.big == .max && back.small == .min && back.doubles == p.doubles)
            }
        }
    }

    /// Columns declared in any order are written in byte order of their keys;
    /// a nil member is left out; nested tables and arrays of them.
    @Test func columnsWriteSortedKeysAndSkipNil() {
        struct Inner { var n: Int }
        struct Row { var name: String; var ratio: Double; var maybe: UInt64?; var inner: Inner; var list: [Inner]; var map: [String: Int] }
        let inner = JSONColumns<Inner>([.int("n") { $0.n }])
        let table = JSONColumns<Row>([
            .string("name") { $0.name }, .object("inner", inner) { $0.inner }, .int("maybe") { $0.maybe },
            .double("Ratio") { $0.ratio }, .array("list", inner) { $0.list }, .counts("map") { $0.map },
        ])
        #expect(table.keys == ["Ratio", "inner", "list", "map", "maybe", "name"])
        var out: [UInt8] = []
        let w = JSONWriter(pretty: false) { out.append(contentsOf: $0) }
        w.beginArray()
        table.write(Row(name: "a", ratio: 0.5, maybe: nil, inner: Inner(n: 1), list: [Inner(n: 2), Inner(n: 3)], map: ["b": 2, "B": 1]), to: w)
        table.write(Row(name: "b", ratio: 2, maybe: 7, inner: Inner(n: 4), list: [], map: [:]), to: w)
        w.endArray()
        w.flush()
        #expect(String(decoding: out, as: UTF8.self) == #"[{"Ratio":0.5,"inner":{"n":1},"list":[{"n":2},{"n":3}],"map":{"B":1,"b":2},"name":"a"},"#
            + #"{"Ratio":2,"inner":{"n":4},"list":[],"map":{},"maybe":7,"name":"b"}]"#)
    }

    @Test func nonFiniteDoublesBecomeNull() {
        var out: [UInt8] = []
        let w = JSONWriter(pretty: false) { out.append(contentsOf: $0) }
        w.beginArray(); w.double(.nan); w.double(.infinity); w.double(1.5); w.null(); w.endArray()
        w.flush()
        #expect(String(decoding: out, as: UTF8.self) == "[null,null,1.5,null]")
    }

    /// Summaries of every sample and of generated traces (HVM, PV, lost
    /// records, a --from/--to window, SVM naming): streamed text == JSONEncoder's.
    @Test func summaryJSONEqualsJSONEncoderOutput() throws {
        let samples = try FileManager.default.contentsOfDirectory(atPath: samplePath("")).filter { $0.hasSuffix(".xentrace") }.sorted()
        #expect(samples.count >= 8)
        var summaries = try samples.map { try Summarizer.summarize(path: samplePath($0)) }
        var windowed = SummaryOptions()
        let whole = summaries[0]
        windowed.fromTSC = whole.firstTSC + whole.totalCycles / 4
        windowed.toTSC = whole.firstTSC + whole.totalCycles / 2
        windowed.hvmFlavour = .svm
        summaries.append(try Summarizer.summarize(path: samplePath(samples[0]), options: windowed))
        for g in [GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 300, seed: 3),
                  GeneratedTrace(cpus: 3, guestsPerCPU: 1, slices: 200, seed: 5, loseOnCPU: 1)] {
            summaries.append(g.bytes.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "gen/\"x\"\n.xentrace") })
        }
        summaries.append(synthSummary())
        #expect(summaries.contains { $0.fromTSC != nil && $0.toTSC != nil && $0.hvmFlavour == "svm" })
        #expect(summaries.contains { !$0.anomalies.isEmpty && !$0.exits.isEmpty && !$0.power.isEmpty && $0.domains.contains { $0.vcpus.contains { $0.pv != nil } } })
        for s in summaries {
            for pretty in [true, false] {
                let mine = try SummaryJSON.encode(s, pretty: pretty)
                let theirs = try SummaryJSON.foundationEncode(s, pretty: pretty)
                #expect(mine == theirs, "\(s.file) pretty \(pretty): first difference at \(zip(mine, theirs).prefix { $0 == $1 }.count)")
            }
        }
    }

    @Test func diffJSONEqualsJSONEncoderOutput() throws {
        let a = try Summarizer.summarize(path: samplePath("xen-4.x-public.xentrace"))
        let b = try Summarizer.summarize(path: samplePath("xen-4.17-qemu-all-dom0-pvdomU-load.xentrace"))
        for d in [SummaryDiff(a, b), SummaryDiff(b, a), SummaryDiff(a, a)] {
            var out: [UInt8] = []
            let w = JSONWriter(pretty: true, escapeSlashes: true) { out.append(contentsOf: $0) }
            d.writeJSON(to: w)
            w.flush()
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted]
            #expect(String(decoding: out, as: UTF8.self) == String(decoding: try e.encode(d), as: UTF8.self))
        }
    }

    /// Every key of real `summary --json` output (and `diff --json`) is named
    /// in its schema document, so the documented schema cannot fall behind.
    @Test func everyOutputKeyIsDocumented() throws {
        let docs = URL(fileURLWithPath: samplePath("")).deletingLastPathComponent().appendingPathComponent("docs")
        let summaryDoc = try String(contentsOf: docs.appendingPathComponent("summary-json.md"), encoding: .utf8)
        let diffDoc = try String(contentsOf: docs.appendingPathComponent("trace-diff.md"), encoding: .utf8)
        #expect(summaryDoc.contains("`xenscope.trace-summary/1`"))
        #expect(diffDoc.contains("`xenscope.trace-diff/1`"))

        // Maps whose keys are data (class names, PV event kinds), not schema.
        let dataMaps: Set<String> = ["classBytes", "events"]
        func keys(_ v: Any, into set: inout Set<String>) {
            if let o = v as? [String: Any] {
                for (k, x) in o {
                    set.insert(k)
                    if !dataMaps.contains(k) { keys(x, into: &set) }
                }
            } else if let a = v as? [Any] {
                for x in a { keys(x, into: &set) }
            }
        }
        var summaryKeys = Set<String>()
        var options = SummaryOptions()
        options.fromTSC = 1
        options.toTSC = .max
        for name in ["xen-4.x-public.xentrace", "xen-4.17-qemu-all-lost-dom0-pvdomU-load.xentrace", "xen-4.17-qemu-arm64-all-dom0-domU-load.xentrace"] {
            let s = try Summarizer.summarize(path: samplePath(name), options: options)
            keys(try JSONSerialization.jsonObject(with: Data(SummaryJSON.encode(s).utf8)), into: &summaryKeys)
        }
        keys(try JSONSerialization.jsonObject(with: Data(SummaryJSON.encode(synthSummary()).utf8)), into: &summaryKeys)
        // Every optional member shows up in at least one of these.
        for k in ["fromTSC", "toTSC", "hvmFlavour", "hvmFlavourReason", "wakeLatency", "pv", "clock", "topRIPs", "bins", "cstates", "pstates", "offsets"] {
            #expect(summaryKeys.contains(k), "no sample output has \(k)")
        }
        for k in summaryKeys.sorted() {
            #expect(summaryDoc.contains("`\(k)`") || summaryDoc.contains("`\(k)[]`"), "summary key \(k) is not in docs/summary-json.md")
        }

        let a = try Summarizer.summarize(path: samplePath("xen-4.x-public.xentrace"))
        var out: [UInt8] = []
        let w = JSONWriter(pretty: true, escapeSlashes: true) { out.append(contentsOf: $0) }
        SummaryDiff(a, a).writeJSON(to: w)
        w.flush()
        var diffKeys = Set<String>()
        keys(try JSONSerialization.jsonObject(with: Data(out)), into: &diffKeys)
        #expect(diffKeys.count >= 15)
        for k in diffKeys.sorted() {
            #expect(diffDoc.contains("`\(k)`") || diffDoc.contains("`\(k)[]`"), "diff key \(k) is not in docs/trace-diff.md")
        }
    }
}

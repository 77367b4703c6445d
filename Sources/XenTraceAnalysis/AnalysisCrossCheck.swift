import BinaryIO
import Foundation
import XenTrace

/// Runs the analysis outputs over one trace held in memory and compares the
/// ways of computing the same figures: the fuzz target (Fuzz/AnalysisFuzz.swift)
/// and the corpus replay test call it. Every input is summarised (one
/// thread) and rendered as text; `variant` (0–7) then picks one more check,
/// so each input costs about two summaries: two threads give the same JSON;
/// JSON reads back to itself; a timeline sink does not change the summary
/// and the HTML report renders; Chrome JSON, CSV or JSON Lines export
/// (row counts bounded by the summary's); a TSC window has no more records
/// than the whole; diff against itself is all-equal and against its first
/// half renders.
public enum AnalysisCrossCheck {
    /// Returns the disagreements found (empty: none). `scratch` is a
    /// directory the exporters may write into.
    public static func run(_ bytes: some ByteViewSource, scratch: String, variant: Int) throws -> [String] {
        let bytes = bytes.byteView
        var problems: [String] = []
        var one = SummaryOptions()
        one.threads = 1
        let s = Summarizer.summarize(bytes: bytes, file: "input", options: one)
        _ = SummaryText.render(s)
        switch variant & 7 {
        case 0:
            let two = Summarizer.summarize(bytes: bytes, file: "input")
            if try SummaryJSON.encode(two, pretty: false) != SummaryJSON.encode(s, pretty: false) {
                problems.append("one thread and two threads give different summaries")
            }
        case 1:
            let text = try SummaryJSON.encode(s, pretty: false)
            let back = try SummaryJSON.decode(Data(text.utf8))
            if try SummaryJSON.encode(back, pretty: false) != text { problems.append("the JSON summary does not read back to itself") }
            if try SummaryJSON.foundationEncode(s) != SummaryJSON.encode(s) { problems.append("the streamed JSON differs from JSONEncoder's") }
            _ = SummaryText.render(s) { "f+0x" + String($0 & 0xff, radix: 16) }
        case 2:
            let timeline = TimelineCollector(limit: 1000)
            let t = Summarizer.summarize(bytes: bytes, file: "input", options: one, sink: timeline)
            if fingerprint(t) != fingerprint(s) { problems.append("a timeline sink changed the summary") }
            _ = HTMLReport.render(s, timeline: timeline)
        case 3:
            let path = scratch + "/trace.json"
            let chrome = try ChromeTraceExporter(path: path, cpuHz: s.cpuHz)
            _ = Summarizer.summarize(bytes: bytes, file: "input", options: one, sink: chrome)
            try chrome.end()
            let out = try Data(contentsOf: URL(fileURLWithPath: path))
            if (try? JSONSerialization.jsonObject(with: out)) == nil { problems.append("the Chrome export is not valid JSON") }
        case 4, 5:
            let tables = try TableExporter(directory: scratch, format: variant & 7 == 4 ? .csv : .jsonl)
            _ = Summarizer.summarize(bytes: bytes, file: "input", options: one, sink: tables)
            try tables.end()
            // Window headers are not rows; neither is a stray CPU-change record
            // inside a window (the summary still counts it as a record).
            if tables.recordRows + s.cpuChangeRecords > s.records {
                problems.append("records table has \(tables.recordRows) rows + \(s.cpuChangeRecords) windows, summary \(s.records) records")
            }
        case 6:
            if s.lastTSC > s.firstTSC {
                var w = one
                w.fromTSC = s.firstTSC
                w.toTSC = s.firstTSC + (s.lastTSC - s.firstTSC) / 2
                let half = Summarizer.summarize(bytes: bytes, file: "input", options: w)
                if half.records > s.records { problems.append("the window [first, middle] has more records (\(half.records)) than the trace (\(s.records))") }
            }
        default:
            let same = SummaryDiff(s, s)
            for r in same.exits + same.domains + same.hypercalls + same.wakeLatency
            where r.countA != r.countB || r.meanCyclesA != r.meanCyclesB {
                problems.append("diff of a summary with itself differs in \(r.key)")
            }
            _ = same.render()
            let firstHalf = Summarizer.summarize(bytes: bytes.subview(0..<(bytes.count / 2)), file: "half", options: one)
            let d = SummaryDiff(firstHalf, s)
            _ = d.render()
            _ = try JSONEncoder().encode(d)
        }
        return problems
    }

    /// The summary's main figures in one string (cheaper than its JSON).
    static func fingerprint(_ s: TraceSummary) -> String {
        var f = "\(s.records) \(s.lostRecords) \(s.firstTSC) \(s.lastTSC) \(s.anomalies.map { "\($0.kind):\($0.count)" })"
        for d in s.domains {
            f += " d\(d.domain):\(d.runningCycles)"
            for v in d.vcpus { f += "/\(v.runstates.map(\.stats.cycles)) \(v.exits.map(\.stats.cycles))" }
        }
        for e in s.exits { f += " e\(e.reason):\(e.stats.events):\(e.stats.cycles)" }
        return f
    }
}

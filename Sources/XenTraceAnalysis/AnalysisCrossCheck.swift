import Foundation
import XenTrace

/// Runs every analysis output over one trace held in memory and compares the
/// ways of computing the same figures: the fuzz target (Fuzz/AnalysisFuzz.swift)
/// and the corpus replay test call it. The summary is built with one thread
/// and with two (equal), with and without a timeline sink (equal), rendered
/// as text, JSON (read back: equal) and HTML, exported as Chrome JSON, CSV or
/// JSON Lines (row counts match the summary), restricted to a TSC window, and
/// diffed against itself and against its first half.
public enum AnalysisCrossCheck {
    /// Returns the disagreements found (empty: none). `scratch` is a
    /// directory the exporters may write into; `variant` picks the
    /// exporter (0 Chrome, 1 CSV, 2 JSONL) and whether two threads run.
    public static func run(_ bytes: UnsafeRawBufferPointer, scratch: String, variant: Int) throws -> [String] {
        var problems: [String] = []
        var one = SummaryOptions()
        one.threads = 1
        let s = Summarizer.summarize(bytes: bytes, file: "input", options: one)
        let text = try SummaryJSON.encode(s, pretty: false)
        if variant % 4 == 0 {
            let two = Summarizer.summarize(bytes: bytes, file: "input")
            if try SummaryJSON.encode(two, pretty: false) != text { problems.append("one thread and two threads give different summaries") }
        }
        let back = try SummaryJSON.decode(Data(text.utf8))
        if try SummaryJSON.encode(back, pretty: false) != text { problems.append("the JSON summary does not read back to itself") }
        _ = SummaryText.render(s)
        _ = SummaryText.render(s) { "f+0x" + String($0 & 0xff, radix: 16) }

        let timeline = TimelineCollector(limit: 1000)
        let withTimeline = Summarizer.summarize(bytes: bytes, file: "input", options: one, sink: timeline)
        if try SummaryJSON.encode(withTimeline, pretty: false) != text { problems.append("a timeline sink changed the summary") }
        _ = HTMLReport.render(s, timeline: timeline)

        switch variant % 3 {
        case 0:
            let path = scratch + "/trace.json"
            let chrome = try ChromeTraceExporter(path: path, cpuHz: s.cpuHz)
            _ = Summarizer.summarize(bytes: bytes, file: "input", options: one, sink: chrome)
            try chrome.end()
            let out = try Data(contentsOf: URL(fileURLWithPath: path))
            if (try? JSONSerialization.jsonObject(with: out)) == nil { problems.append("the Chrome export is not valid JSON") }
        default:
            let tables = try TableExporter(directory: scratch, format: variant % 3 == 1 ? .csv : .jsonl)
            _ = Summarizer.summarize(bytes: bytes, file: "input", options: one, sink: tables)
            try tables.end()
            // Window headers are not rows; neither is a stray CPU-change record
            // inside a window (the summary still counts it as a record).
            if tables.recordRows + s.cpuChangeRecords > s.records {
                problems.append("records table has \(tables.recordRows) rows + \(s.cpuChangeRecords) windows, summary \(s.records) records")
            }
        }

        if s.lastTSC > s.firstTSC {
            var w = one
            w.fromTSC = s.firstTSC
            w.toTSC = s.firstTSC + (s.lastTSC - s.firstTSC) / 2
            let half = Summarizer.summarize(bytes: bytes, file: "input", options: w)
            if half.records > s.records { problems.append("the window [first, middle] has more records (\(half.records)) than the trace (\(s.records))") }
        }

        let same = SummaryDiff(s, s)
        for r in same.exits + same.domains + same.hypercalls + same.wakeLatency
        where r.countA != r.countB || r.meanCyclesA != r.meanCyclesB {
            problems.append("diff of a summary with itself differs in \(r.key)")
        }
        _ = same.render()
        let firstHalf = Summarizer.summarize(bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 2)]), file: "half", options: one)
        let d = SummaryDiff(firstHalf, s)
        _ = d.render()
        _ = try JSONEncoder().encode(d)
        return problems
    }
}

import ArgumentParser
import Foundation
import XenTraceAnalysis

/// `xenscope trace report FILE -o report.html`: one self-contained HTML page.
struct TraceReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML report: summary tables, zoomable per-CPU timeline, exit and latency histograms."
    )

    @Argument(help: "Trace file written by xentrace.")
    var file: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "HTML file to write.")
    var output: String

    @OptionGroup var time: TimeBaseOptions

    func run() throws {
        let tl = TimelineCollector()
        let progress = ProgressLine.forTerminalOutput(json: false)
        let s: TraceSummary
        do {
            defer { progress?.finish() }
            s = try Summarizer.summarize(path: file, options: time.summaryOptions(file: file), sink: tl, progress: progress?.byteReporter)
        }
        let html = HTMLReport.render(s, timeline: tl)
        do { try html.write(toFile: output, atomically: true, encoding: .utf8) } catch {
            throw ValidationError("cannot write \(output): \(error.localizedDescription)")
        }
        let out = FDWriter(fd: 1)
        out.line("\(output): \(html.utf8.count) bytes, \(tl.runs.count) timeline intervals\(tl.dropped > 0 ? " (\(tl.dropped) not drawn)" : "")")
        out.flush()
        try exitOnDamage(s.diagnostics)
    }
}

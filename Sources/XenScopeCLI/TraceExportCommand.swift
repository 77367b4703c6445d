import ArgumentParser
import Foundation
import XenTraceAnalysis

/// `xenscope trace export FILE --format F -o OUT`: timelines and tables.
struct TraceExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a timeline (Chrome/Perfetto JSON) or flat tables (CSV/JSON Lines) for other tools.",
        discussion: """
        chrome-json / perfetto: one JSON file in Chrome's trace-event format (Perfetto UI and chrome://tracing \
        open it): a track per pCPU showing which vCPU ran, a track per vCPU with its VMEXITs, instant events for \
        interrupts and lost records, a counter of runnable vCPUs. csv / jsonl: a directory with records, \
        runstates and vmexits tables plus metadata.json (see docs/trace-export.md). Both record which clock \
        (TSC, ARM generic timer, or unknown timestamp counter) and which rate turned timestamps into seconds.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case chromeJSON = "chrome-json", perfetto, csv, jsonl
    }

    @Argument(help: "Trace file written by xentrace.")
    var file: String

    @Option(help: "chrome-json, perfetto (the same JSON), csv or jsonl.")
    var format: Format

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output file (chrome-json, perfetto) or directory (csv, jsonl).")
    var output: String

    @OptionGroup var time: TimeBaseOptions

    func run() throws {
        let options = try time.summaryOptions(file: file)
        let out = FDWriter(fd: 1)
        var damage: [String] = []
        let progress = ProgressLine.forTerminalOutput(json: false)
        defer { progress?.finish() }
        switch format {
        case .chromeJSON, .perfetto:
            let e = try ChromeTraceExporter(path: output, clock: options.clock)
            damage = try Summarizer.summarize(path: file, options: options, sink: e, progress: progress?.byteReporter).diagnostics
            progress?.finish()
            out.line("\(output): \(e.slices) run slices, \(e.exitSlices) VMEXIT slices, \(e.instants) instant events, \(e.counters) counter samples")
        case .csv, .jsonl:
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let e = try TableExporter(directory: output, format: format == .csv ? .csv : .jsonl, clock: options.clock)
            damage = try Summarizer.summarize(path: file, options: options, sink: e, progress: progress?.byteReporter).diagnostics
            progress?.finish()
            out.line("\(output): records \(e.recordRows) rows, runstates \(e.runstateRows) rows, vmexits \(e.vmexitRows) rows")
        }
        out.flush()
        try exitOnDamage(damage)
    }
}

import ArgumentParser
import BinaryIO
import XenTraceAnalysis

/// `xenscope trace diff A B`: what got slower, which exits grew.
struct TraceDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two traces (or two `trace summary --json` files): what got slower, which exits grew.",
        discussion: "Counts are compared per second of trace as well as absolutely, since traces rarely have the same length."
    )

    @Argument(help: "The baseline: a trace file or a summary JSON file.")
    var a: String

    @Argument(help: "The trace (or summary JSON) to compare with the baseline.")
    var b: String

    @OptionGroup var time: TimeBaseOptions

    @Flag(help: "Print the comparison as JSON (schema xenscope.trace-diff/1).")
    var json = false

    func load(_ path: String, _ damage: inout [String]) throws -> TraceSummary {
        // A saved summary starts with '{'; it is read through a mapping by the
        // pull reader (no document tree). What cannot be mapped (a directory,
        // a pipe) or is not JSON is left to the trace reader and its messages.
        if let m = try? MappedFile(path: path), m.withBytes({ $0.first == UInt8(ascii: "{") }) {
            do { return try SummaryJSON.decode(mapped: m) } catch let e as InputError {
                throw InputError(file: e.file, offset: e.offset, "not a summary JSON file: " + e.message)
            }
        }
        let s = try Summarizer.summarize(path: path, options: time.summaryOptions(file: path))
        damage += s.diagnostics
        return s
    }

    func run() throws {
        var damage: [String] = []
        let d = SummaryDiff(try load(a, &damage), try load(b, &damage))
        let out = FDWriter(fd: 1)
        if json {
            let w = JSONWriter(pretty: true, escapeSlashes: true) { out.writeRaw($0) }
            d.writeJSON(to: w)
            w.flush()
            out.line("")
        } else {
            out.write(d.render())
        }
        out.flush()
        try exitOnDamage(damage)
    }
}

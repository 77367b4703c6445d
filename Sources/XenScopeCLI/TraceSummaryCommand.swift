import ArgumentParser
import BinaryIO
import DWARF
import Foundation
import XenTrace
import XenTraceAnalysis

/// Options shared by the analysis commands: time base and window.
struct TimeBaseOptions: ParsableArguments {
    @Option(name: .customLong("cpu-hz"), help: "Rate of the trace's timestamp counter in Hz (x86: the TSC's; arm64: the generic timer's, 62.5M under QEMU). Suffixes k, M, G allowed, e.g. 2.4G.")
    var cpuHz: String?

    @Option(name: .customLong("xl-info"), help: "A saved `xl info` output: its cpu_mhz sets the counter rate, its machine/xen_caps the clock (TSC or ARM generic timer).")
    var xlInfo: String?

    @Option(name: .customLong("clock"), help: "Which counter the timestamps are: tsc, arm-generic-timer, or timestamp-counter (unknown). Default: from --xl-info or the recorder's FILE.meta.json, else tsc when the trace has x86-only events.")
    var clock: String?

    @Option(help: "Analyse records from this timestamp on (or seconds from the trace start with an 's' suffix, e.g. 1.5s).")
    var from: String?

    @Option(help: "Analyse records up to this timestamp (or seconds from the trace start with an 's' suffix).")
    var to: String?

    @Flag(help: "Name VMEXIT reasons as AMD SVM exit codes (like xenalyze --svm-mode). Default: detected from the exit codes, see docs/trace-summary.md.")
    var svm = false

    @Flag(help: "Name VMEXIT reasons as Intel VMX basic exit reasons.")
    var vmx = false

    func validate() throws {
        if svm && vmx { throw ValidationError("--svm and --vmx exclude each other") }
    }

    func summaryOptions(file: String) throws -> SummaryOptions {
        var o = SummaryOptions()
        o.hvmFlavour = svm ? .svm : vmx ? .vmx : nil
        // What the recorder wrote beside the trace, if anything; options win.
        if let m = try TraceMetadata.read(tracePath: file) {
            o.clockKind = m.clock.kind
            if m.clock.hz > 0 { o.cpuHz = m.clock.hz; o.cpuHzSource = TraceMetadata.path(for: file) }
        }
        var xlText: String?
        if let x = xlInfo {
            do { xlText = try TextFile.read(x) } catch { throw InputFailure("--xl-info: \(error)") }
            if let k = TraceClock.kind(xlInfo: xlText!) { o.clockKind = k }
        }
        if let h = cpuHz {
            guard let v = TimeBase.parseHz(h) else { throw ValidationError("--cpu-hz: cannot read '\(h)' as a frequency") }
            o.cpuHz = v; o.cpuHzSource = "--cpu-hz"
        } else if let x = xlInfo, let text = xlText {
            guard let mhz = TimeBase.cpuMHz(xlInfo: text) else { throw InputFailure("--xl-info: \(x): has no cpu_mhz line (not a saved `xl info` output?)") }
            o.cpuHz = mhz * 1e6; o.cpuHzSource = "xl-info"
        }
        if let clock {
            guard let k = TraceClock.Kind(rawValue: clock) else {
                throw ValidationError("--clock: '\(clock)' is not one of \(TraceClock.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            o.clockKind = k
        }
        if from != nil || to != nil {
            let first = try TimeBase.firstTSC(path: file)
            if let f = from { o.fromTSC = try TimeBase.tsc(f, first: first, hz: o.cpuHz, option: "--from") }
            if let t = to { o.toTSC = try TimeBase.tsc(t, first: first, hz: o.cpuHz, option: "--to") }
        }
        return o
    }
}

extension TimeBase {
    static func tsc(_ s: String, first: UInt64, hz: Double, option: String) throws -> UInt64 {
        if s.hasSuffix("s"), let sec = Double(s.dropLast()), sec >= 0 { return first + UInt64(sec * hz) }
        if let v = UInt64(s) { return v }
        if s.hasPrefix("0x"), let v = UInt64(s.dropFirst(2), radix: 16) { return v }
        throw ValidationError("\(option): '\(s)' is neither a timestamp nor seconds like 1.5s")
    }
}

/// `xenscope trace summary FILE`: xenalyze-class figures for a trace.
struct TraceSummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Per-CPU, per-domain and per-vCPU figures: runstates, wake latency, HVM exits, PV hypercalls, IRQs, power, lost records.",
        discussion: "Figures match `xenalyze --summary` where both print them; see docs/xenalyze-parity.md. --json output is described in docs/summary-json.md. Timestamps are Xen's get_cycles(): the TSC on x86, the ARM generic timer on arm64 (docs/arm64.md); sections an architecture cannot have are left out."
    )

    @Argument(help: "Trace file written by xentrace.")
    var file: String

    @OptionGroup var time: TimeBaseOptions

    @Flag(help: "Print the summary as JSON (schema xenscope.trace-summary/1).")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Name the hottest guest RIPs per exit reason with this ELF (`func+0xoff (file:line)`). BIAS = load base or KASLR slide.", valueName: "elf[:bias]"), completion: .file())
    var symbols: String?

    func validate() throws {
        if symbols != nil && json { throw ValidationError("--symbols applies to the text output only") }
    }

    func run() throws {
        var names: DescriptionCache?
        if let symbols {
            let (path, bias) = parseImageWithBias(symbols)
            do { names = DescriptionCache(try Symbolizer(path: path, bias: bias)) } catch {
                throw InputFailure("--symbols: " + (error is InputError ? "\(error)" : "\(path): \(error)"))
            }
        }
        let progress = ProgressLine.forTerminalOutput(json: json)
        let s: TraceSummary
        do {
            defer { progress?.finish() }
            s = try Summarizer.summarize(path: file, options: time.summaryOptions(file: file), progress: progress?.byteReporter)
        }
        let out = FDWriter(fd: 1)
        if json {
            let w = JSONWriter(pretty: true) { out.writeRaw($0) }
            SummaryJSON.write(s, to: w)
            w.flush()
            out.line("")
        } else {
            if names != nil {
                out.write(SummaryText.render(s) { String(decoding: names!.describe($0), as: UTF8.self) })
            } else {
                out.write(SummaryText.render(s))
            }
        }
        out.flush()
        try exitOnDamage(s.diagnostics)
    }
}

/// Prints a trace's damage to standard error (file, byte offset, what was
/// skipped; the first 20, then a count) and exits 2 when there was any, after
/// the caller has written everything the valid records gave.
func exitOnDamage(_ diagnostics: [String]) throws {
    for d in diagnostics.prefix(20) { FDWriter.stderrLine("xenscope: \(d)") }
    if diagnostics.count > 20 { FDWriter.stderrLine("xenscope: … and \(diagnostics.count - 20) more problem(s)") }
    if !diagnostics.isEmpty { throw ExitCode(2) }
}

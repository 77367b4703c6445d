import ArgumentParser
import BinaryIO
import DWARF
import XenTrace
import XenTraceFormats

/// `xenscope trace decode FILE`: one line per record, like xentrace_format.
struct TraceDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Print one line per trace record: CPU, timestamp (TSC on x86, generic timer on arm64), delta, event name, decoded fields.",
        discussion: """
        Without --formats, records of all CPUs are merged in TSC order, records without a TSC \
        show the last TSC of their CPU, and names and fields come from XenScope's event catalogue \
        (`xenscope trace formats` prints it); CPU-change records are left out unless --event \
        asks for them. With --formats FILE and no --order, the output is \
        exactly what Xen's xentrace_format prints with that file. See docs/decode.md.
        """
    )

    @Argument(help: "Trace written by xentrace ('-' for standard input; gzip/xz/zstd are read transparently).", completion: .file())
    var file: String

    @Option(name: .long, help: ArgumentHelp("Use a formats file in Xen's syntax instead of the catalogue.", valueName: "file"), completion: .file())
    var formats: String?

    @Option(name: .long, help: ArgumentHelp("Only these CPUs, e.g. 0,2,5-7.", valueName: "list"))
    var cpu: String?

    @Option(name: .long, help: ArgumentHelp("Only this event: an id (0x0002800a), a mask (0x0002f000), a name (sched:switch) or a class (sched, hvm, pv, credit2, …). Repeatable.", valueName: "event"))
    var event: [String] = []

    @Option(name: .long, help: ArgumentHelp("Only records whose decoded fields name this domain.", valueName: "domid"))
    var domain: UInt32?

    @Option(name: .long, help: ArgumentHelp("Start at this timestamp, or at this many seconds after the first one (a number with '.' or 's', needs --cpu-hz).", valueName: "time"))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Stop after this timestamp, or this many seconds after the first one.", valueName: "time"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Timestamp counter rate for seconds in --from/--to and the header (x86 TSC, e.g. 2.4G; arm64 generic timer, e.g. 62.5M).", valueName: "hz"))
    var cpuHz: String?

    @Option(name: [.customShort("c"), .customLong("mhz")], help: ArgumentHelp("With --formats: print the timestamps in seconds, as xentrace_format -c MHZ does (counter rate in MHz).", valueName: "mhz"))
    var mhz: Int?

    @Option(name: .long, help: ArgumentHelp("Stop after N records shown.", valueName: "n"))
    var limit: Int?

    @Option(name: .long, help: "Record order: file (as written) or tsc (all CPUs merged). Default: tsc, or file with --formats or when reading standard input or a pipe (TSC order must copy the whole stream first).")
    var order: RecordOrder?

    @Flag(name: .long, help: "JSON Lines: a header object, then one object per record.")
    var json = false

    @Flag(name: .long, help: "CSV with a header row.")
    var csv = false

    @Flag(name: .long, help: "Do not print the summary header before the text lines.")
    var noHeader = false

    @Option(name: .long, help: ArgumentHelp("Symbolize guest code addresses (VM-exit RIPs, PV trap/fault/hypercall EIPs) with this ELF: ` [func+0xoff (file:line)]` after the line. BIAS = load base or KASLR slide.", valueName: "elf[:bias]"), completion: .file())
    var symbols: String?

    @Flag(help: "Name VMEXIT reasons as AMD SVM exit codes (exit=NAME after the fields).")
    var svm = false

    @Flag(help: "Name VMEXIT reasons as Intel VMX basic exit reasons. Default: detected from the first million records of a file (not a pipe); see docs/trace-summary.md.")
    var vmx = false

    func validate() throws {
        if svm && vmx { throw ValidationError("--svm and --vmx exclude each other") }
        if (svm || vmx) && formats != nil { throw ValidationError("--svm/--vmx apply to the catalogue's output, not --formats") }
        if json && csv { throw ValidationError("--json and --csv exclude each other") }
        if formats != nil && (json || csv) { throw ValidationError("--formats applies to text output only") }
        if mhz != nil && formats == nil { throw ValidationError("-c/--mhz needs --formats (xentrace_format compatibility)") }
        if let limit, limit < 0 { throw ValidationError("--limit must be >= 0") }
        if symbols != nil && (formats != nil || json || csv) { throw ValidationError("--symbols applies to the default text output only") }
    }

    func run() throws {
        var filter = DecodeFilter()
        do {
            if let cpu { filter.cpus = try DecodeFilter.cpuList(cpu) }
            filter.events = try event.map { try DecodeFilter.selector($0) }
        } catch let e as DecodeFilter.ParseError {
            throw ValidationError(e.description)
        }
        filter.domain = domain
        let hz = try cpuHz.map { s -> Double in
            guard let v = parseHz(s) else { throw ValidationError("bad --cpu-hz `\(s)`: want e.g. 2.4G") }
            return v
        }
        let fromSpec = try from.map { try parseTime($0, hz: hz, option: "--from") }
        let toSpec = try to.map { try parseTime($0, hz: hz, option: "--to") }

        let style: TraceDecoder.Style
        var effectiveOrder: RecordOrder
        if let formats {
            let f: FormatsFile
            do { f = try FormatsFile(path: formats) } catch let e as FormatsFile.ParseError {
                FDWriter.stderrLine("xenscope: \(e)")
                throw ExitCode(2)
            }
            // xentrace_format prints nothing then, too; say why the output is empty.
            if f.definitions.isEmpty { FDWriter.stderrLine("xenscope: \(formats): no format definitions: no record will be printed") }
            effectiveOrder = order ?? .file
            style = order == nil ? .xentraceFormat(f, mhz: mhz ?? 0) : .formats(f)
        } else {
            effectiveOrder = order ?? .tsc
            style = json ? .json : (csv ? .csv : .text)
        }

        var names: DescriptionCache?
        if let symbols {
            let (path, bias) = parseImageWithBias(symbols)
            do { names = DescriptionCache(try Symbolizer(path: path, bias: bias)) } catch {
                throw InputFailure("--symbols: " + (error is InputError ? "\(error)" : "\(path): \(error)"))
            }
        }

        let out = FDWriter(fd: 1, capacity: 1 << 18)
        let input = try TraceInput.open(file)
        // A pipe may never end (`cat /dev/zero |`): TSC order would copy it for ever before printing.
        if order == nil && input.isPipe { effectiveOrder = .file }
        if case .text = style, !noHeader, input.isMapped {
            // The summary needs a pass of its own: only for inputs that can be read twice.
            let info = try TraceInfo(input, order: .file)
            for line in TraceSummary.header(info, name: file, cpuHz: hz) { out.line("# " + line) }
        }
        var decoder = TraceDecoder(style: style, filter: filter)
        if formats == nil {
            let given: HVMFlavour? = svm ? .svm : vmx ? .vmx : nil
            // Detection reads the file ahead (bounded); a pipe cannot be read twice.
            let d = given == nil && input.isMapped ? try HVMFlavourDetector.scan(input, maxRecords: 1_000_000) : HVMFlavourDetector()
            if let (f, why) = d.decide(given: given) {
                decoder.exitFlavour = f
                decoder.exitFlavourReason = why
                if case .text = style, !noHeader, input.isMapped { out.line("# exit reasons: \(f == .svm ? "AMD SVM exit codes" : "Intel VMX basic exit reasons") (\(why))") }
            }
        }
        // In TSC order CPU-change records are shown only when asked for by --event.
        decoder.hideCPUChange = effectiveOrder == .tsc
            && !filter.events.contains { $0.matches(EventID.cpuChange, "gen:cpu_change") }
        out.write(decoder.preamble(file: file, order: effectiveOrder.rawValue))

        var sink = ByteSink(capacity: 1 << 16)
        var shown = 0
        var origin: UInt64 = 0
        var failure: String?
        let limit = self.limit ?? Int.max
        let diagnostics = try TraceRecords.forEach(input, order: effectiveOrder) { r in
            if shown >= limit { return false }
            if origin == 0 && r.tsc != 0 {
                origin = r.tsc
                if let fromSpec { decoder.filter.fromTSC = fromSpec.tsc(origin: origin) }
                if let toSpec { decoder.filter.toTSC = toSpec.tsc(origin: origin) }
            }
            let before = sink.count
            switch decoder.decode(r, into: &sink) {
            case .next: break
            case .stop: return false
            case .fatal(let message):
                failure = "at byte \(r.offset) (0x\(String(r.offset, radix: 16))): \(message)"
                return false
            }
            if sink.count != before {
                shown += 1
                if names != nil, let rip = CodeAddress.of(r) {
                    // Replace the line's newline with ` [description]\n`.
                    sink.truncate(to: sink.count - 1)
                    sink.append(0x20); sink.append(0x5b)
                    sink.append(names!.describe(rip))
                    sink.append(0x5d); sink.append(0x0a)
                }
            }
            if sink.count >= 1 << 16 {
                sink.withBytes { out.writeRaw($0) }
                sink.reset()
            }
            return true
        }
        sink.withBytes { out.writeRaw($0) }
        out.flush()
        for d in diagnostics { FDWriter.stderrLine("xenscope: \(d)") }
        if let failure {
            FDWriter.stderrLine("xenscope: \(file): \(failure)")
            throw ExitCode(1)
        }
        // Damage that cost records is worth a non-zero status; a TSC hiccup is not.
        if diagnostics.contains(where: { $0.kind != .tscBackwards }) { throw ExitCode(2) }
    }
}

/// A --from/--to value: an absolute TSC or seconds after the first TSC.
struct TimeSpec {
    var absolute: UInt64?
    var seconds: Double = 0
    var hz: Double = 0
    func tsc(origin: UInt64) -> UInt64 {
        if let absolute { return absolute }
        return origin &+ UInt64(max(0, seconds * hz))
    }
}

func parseTime(_ s: String, hz: Double?, option: String) throws -> TimeSpec {
    if let v = UInt64(s) { return TimeSpec(absolute: v) }
    var t = Substring(s)
    if t.hasSuffix("s") { t = t.dropLast() }
    guard let secs = Double(t), secs >= 0 else { throw ValidationError("bad \(option) `\(s)`: want a TSC or seconds like 1.5s") }
    guard let hz else { throw ValidationError("\(option) in seconds needs --cpu-hz") }
    return TimeSpec(absolute: nil, seconds: secs, hz: hz)
}

/// "2.4G", "2400M", "2400000000" → Hz.
func parseHz(_ s: String) -> Double? {
    var t = Substring(s.uppercased())
    var mult = 1.0
    if t.hasSuffix("HZ") { t = t.dropLast(2) }
    if let last = t.last, let m = ["K": 1e3, "M": 1e6, "G": 1e9][String(last)] { mult = m; t = t.dropLast() }
    guard let v = Double(t), v > 0 else { return nil }
    return v * mult
}

import BinaryIO
import XenTrace

/// Turns records into output lines for `xenscope trace decode`, one record
/// at a time, into a reusable ``ByteSink``. It owns the per-CPU state the
/// line formats need (previous TSC for `reltsc`).
public struct TraceDecoder {
    /// The output format.
    public enum Style {
        /// Our text: `CPUn  TSC (+DELTA)  name field=value…`, real TSCs.
        case text
        /// A user's formats file, rendered with our values (real TSCs, record CPUs).
        case formats(FormatsFile)
        /// A formats file rendered exactly as xentrace_format would.
        case xentraceFormat(FormatsFile, mhz: Int)
        /// JSON Lines, one object per record (after a header object).
        case json
        /// CSV with a header row.
        case csv
    }

    /// Version of the JSON Lines / CSV schema; bump on incompatible changes.
    public static let schemaVersion = 1

    public let style: Style
    public let catalogue: EventCatalogue
    public var filter: DecodeFilter { didSet { filterIsEmpty = filter.isEmpty } }
    private var filterIsEmpty = true
    /// Leave out TRC_TRACE_CPU_CHANGE records (file structure, not events; in
    /// TSC order their place on the time line means nothing).
    public var hideCPUChange = false
    private var emulator: XentraceFormatEmulator?
    private var lastTSC: [UInt64] = []
    private let isText: Bool
    private var scratch = ByteSink(capacity: 256)
    /// Name VMEXIT reasons in this numbering (`exit=NAME` after the fields;
    /// `"exit"` in JSON fields); nil: numbers only.
    public var exitFlavour: HVMFlavour? { didSet { exitNames = [:] } }
    /// Why that numbering (the JSON header's `hvm_flavour_reason`).
    public var exitFlavourReason: String?
    private var exitNames: [UInt32: String] = [:]

    /// The exit-reason name of `r` if it is a VMEXIT and names were asked for.
    @inline(__always) private mutating func exitName(_ r: TraceRecord) -> String? {
        guard let f = exitFlavour, r.extraCount >= 1, HVMFlavourDetector.isExit(r.event) else { return nil }
        let code = r.extra.w0
        if let n = exitNames[code] { return n }
        let n = ExitReasons.name(Int(code), f)
        exitNames[code] = n
        return n
    }

    public init(style: Style, filter: DecodeFilter = DecodeFilter(), catalogue: EventCatalogue = .shared) {
        self.style = style
        self.filter = filter
        self.catalogue = catalogue
        filterIsEmpty = filter.isEmpty
        if case .text = style { isText = true } else { isText = false }
        if case let .xentraceFormat(f, mhz) = style { emulator = XentraceFormatEmulator(formats: f, mhz: mhz) }
    }

    /// The hot path: our text format, no filters.
    @inline(__always)
    private mutating func decodeText(_ r: TraceRecord, into out: inout ByteSink) {
        let c = Int(r.cpu)
        if c >= lastTSC.count { lastTSC.append(contentsOf: repeatElement(0, count: c - lastTSC.count + 1)) }
        let prev = lastTSC[c]
        lastTSC[c] = r.tsc
        if hideCPUChange && r.event == EventID.cpuChange { return }
        let rel: Int64 = prev == 0 ? 0 : (r.tsc >= prev ? Int64(clamping: r.tsc - prev) : -Int64(clamping: prev - r.tsc))
        // "CPU" + 10 + 2 + 20 + " (+" + padding to 8 + 21 + ")  ": at most 70 bytes, one check.
        out.reserve(72)
        out.put(0x43, 0x50); out.put(0x55)
        out.putDecimal(UInt64(r.cpu))
        out.put(0x20, 0x20)
        out.putDecimal(r.tsc)
        out.put(0x20); out.put(0x28, 0x2b)
        var pad = 8 - ByteSink.decimalDigits(rel.magnitude) - (rel < 0 ? 1 : 0)
        while pad > 0 { out.put(0x20); pad -= 1 }
        out.putDecimal(rel)
        out.put(0x29); out.put(0x20, 0x20)
        catalogue.renderText(r, into: &out)
        if let n = exitName(r) { out.append(" exit="); out.append(n) }
        out.append(0x0a)
    }

    /// The first line(s) of the stream: the JSON header object or the CSV header row.
    public func preamble(file: String, order: String) -> String {
        switch style {
        case .json:
            var flavour = ""
            if let f = exitFlavour {
                flavour = ",\"hvm_flavour\":\"\(f.rawValue)\",\"hvm_flavour_reason\":\(JSONString.literal(exitFlavourReason ?? ""))"
            }
            return "{\"schema\":\"xenscope.trace.decode\",\"version\":\(TraceDecoder.schemaVersion),\"file\":\(JSONString.literal(file)),\"order\":\(JSONString.literal(order))\(flavour)}\n"
        case .csv:
            return "cpu,tsc,has_tsc,offset,event,name,words,fields\n"
        default:
            return ""
        }
    }

    /// Renders `r` if it passes the filter. Returns whether it was shown, or
    /// the emulator's verdict in xentrace_format mode.
    public mutating func decode(_ r: TraceRecord, into out: inout ByteSink) -> XentraceFormatEmulator.Step {
        if isText && filterIsEmpty {
            decodeText(r, into: &out)
            return .next
        }
        if emulator != nil {
            // xentrace_format has no filters; we apply ours after its state update
            // so that its reltsc and CPU tracking see every record.
            let filtered = !filterIsEmpty
            if filtered {
                let spec = catalogue.spec(for: r.event)
                if !filter.accepts(r, spec: spec, tsc: r.tsc) {
                    scratch.reset()
                    return emulator!.render(r, into: &scratch)
                }
            }
            return emulator!.render(r, into: &out)
        }
        let c = Int(r.cpu)
        if c >= lastTSC.count { lastTSC.append(contentsOf: repeatElement(0, count: c - lastTSC.count + 1)) }
        let prev = lastTSC[c]
        lastTSC[c] = r.tsc
        if hideCPUChange && r.event == EventID.cpuChange { return .next }
        if !filterIsEmpty && !filter.accepts(r, spec: catalogue.spec(for: r.event), tsc: r.tsc) { return .next }
        let rel: Int64 = prev == 0 ? 0 : (r.tsc >= prev ? Int64(clamping: r.tsc - prev) : -Int64(clamping: prev - r.tsc))
        switch style {
        case .text:
            out.append(0x43); out.append(0x50); out.append(0x55)
            out.appendDecimal(UInt64(r.cpu))
            out.append(0x20); out.append(0x20)
            out.appendDecimal(r.tsc)
            out.append(0x20); out.append(0x28); out.append(0x2b)
            let digits = ByteSink.decimalDigits(rel.magnitude) + (rel < 0 ? 1 : 0)
            out.append(repeating: 0x20, count: 8 - digits)
            out.appendDecimal(rel)
            out.append(0x29); out.append(0x20); out.append(0x20)
            catalogue.renderText(r, into: &out)
            if let n = exitName(r) { out.append(" exit="); out.append(n) }
            out.append(0x0a)
        case .formats(let f):
            guard let def = f.definition(for: r.event) else { return .next }
            var words = r.extra
            for i in r.extraCount..<7 { words[i] = 0 }
            if r.event == 0x0020_100d || r.event == 0x0020_200e { words.w0 &= 0x000f_ffff }
            let cpu = r.cpu, tsc = r.tsc, event = r.event
            let value: (FormatKey) -> FormatValue = { key in
                switch key {
                case .cpu: return .u(UInt64(cpu))
                case .tsc: return .u(tsc)
                case .event: return .u(UInt64(event))
                case .reltsc: return .s(rel)
                case .word(let i): return .u(UInt64(words[i]))
                }
            }
            let dict = {
                "{'cpu': \(cpu), 'tsc': \(tsc), 'event': \(event), 'reltsc': \(rel)"
                    + (0..<7).map { ", '\($0 + 1)': \(words[$0])" }.joined() + "}"
            }
            switch def.format.outcome {
            case .ok:
                let mark = out.count
                if let err = def.format.render(into: &out, value: value, dictRepr: dict) {
                    out.truncate(to: mark)
                    return .fatal("\(f.path):\(def.line): \(err)")
                }
                out.append(0x0a)
            case .typeError(let e), .fatal(let e):
                return .fatal("\(f.path):\(def.line): \(e)")
            }
        case .json:
            let s = catalogue.spec(for: r.event) ?? catalogue.unknownSpec
            out.append("{\"cpu\":"); out.appendDecimal(UInt64(r.cpu))
            out.append(",\"tsc\":"); out.appendDecimal(r.tsc)
            out.append(",\"has_tsc\":"); out.append(r.hasTSC ? "true" : "false")
            out.append(",\"offset\":"); out.appendDecimal(UInt64(r.offset))
            out.append(",\"event\":"); out.appendDecimal(UInt64(r.event))
            out.append(",\"id\":\"0x"); out.appendHex(UInt64(r.event), width: 8)
            out.append("\",\"name\":\""); out.append(s.name)
            out.append("\",\"words\":[")
            for i in 0..<r.extraCount { if i > 0 { out.append(0x2c) }; out.appendDecimal(UInt64(r.extra[i])) }
            out.append("],\"fields\":{")
            var first = true
            for f in s.fields {
                if f.kind != .rest && f.word + ((f.kind == .dec64 || f.kind == .hex64) ? 1 : 0) >= r.extraCount { continue }
                if !first { out.append(0x2c) }
                first = false
                out.append(0x22); out.append(f.name); out.append("\":")
                switch EventCatalogue.value(of: f, r.extra, count: r.extraCount) {
                case .unsigned(let v): out.appendDecimal(v)
                case .signed(let v): out.appendDecimal(v)
                case .words(let ws):
                    out.append(0x5b)
                    for (i, w) in ws.enumerated() { if i > 0 { out.append(0x2c) }; out.appendDecimal(UInt64(w)) }
                    out.append(0x5d)
                }
            }
            if let n = exitName(r) {
                if !first { out.append(0x2c) }
                out.append("\"exit\":\""); out.append(n); out.append(0x22)
            }
            out.append("}}\n")
        case .csv:
            let s = catalogue.spec(for: r.event) ?? catalogue.unknownSpec
            out.appendDecimal(UInt64(r.cpu)); out.append(0x2c)
            out.appendDecimal(r.tsc); out.append(0x2c)
            out.append(r.hasTSC ? "1," : "0,")
            out.appendDecimal(UInt64(r.offset)); out.append(",0x")
            out.appendHex(UInt64(r.event), width: 8); out.append(0x2c)
            out.append(s.name); out.append(0x2c)
            for i in 0..<r.extraCount { if i > 0 { out.append(0x20) }; out.appendHex(UInt64(r.extra[i]), width: 8) }
            out.append(0x2c)
            let mark = out.count
            EventCatalogue.renderFields(s, r, into: &out)
            // " a=1 b=2" → "a=1 b=2"; no commas or quotes can occur in it.
            out.remove(at: mark)
            if let n = exitName(r) { out.append(" exit="); out.append(n) }
            out.append(0x0a)
        case .xentraceFormat:
            break
        }
        return .next
    }
}

import XenTrace

/// One named value decoded from a record's payload words.
public struct FieldSpec: Sendable, Equatable {
    /// How a field's words are read and printed.
    public enum Kind: Sendable, Equatable {
        /// One word, printed in decimal / hex / as a signed 32-bit number.
        case dec, hex, signed
        /// Two words, low first.
        case dec64, hex64
        /// `width` bits of one word starting at bit `shift`.
        case bits(shift: Int, width: Int, signed: Bool, hex: Bool)
        /// Every word from `word` to the end of the record (variable length).
        case rest
    }
    public var name: String
    /// Index (0-based) of the (first) payload word the field lives in.
    public var word: Int
    public var kind: Kind

    /// Whether the field holds a domain id (used by `--domain`).
    public var isDomain: Bool { name == "dom" || name.hasSuffix("_dom") }
}

/// What the catalogue knows about one event id.
public struct EventSpec: Sendable, Equatable {
    public var id: UInt32
    /// Stable name, `<group>:<event>` (e.g. `sched:switch`).
    public var name: String
    public var fields: [FieldSpec]
    /// Comment lines that precede this event in the catalogue.
    public var comments: [String]
    /// Number of fixed payload words the layout describes.
    public var wordCount: Int

    /// Whether Xen on this architecture can emit the event.
    public func exists(on a: TraceArchitecture) -> Bool { a == .x86_64 || !TraceArchitecture.isX86Only(id) }
}

/// The architectures Xen traces on. x86 has every event; on arm64 only
/// common code traces (xen/common: scheduling, grant tables, reservations,
/// the trace infrastructure): ARM's own code has no trace points.
public enum TraceArchitecture: String, Sendable, CaseIterable {
    case x86_64, arm64

    /// Ids only x86 code emits: the HVM (0x0008), PV (0x0020), SHADOW
    /// (0x0040) and HW (0x0080: x86 cpufreq/C-states, irq.c) classes, and
    /// the MEM events of x86's p2m and populate-on-demand code.
    public static func isX86Only(_ id: UInt32) -> Bool {
        let main = (id >> 16) & 0xfff
        if main & (0x008 | 0x020 | 0x040 | 0x080) != 0 { return true }
        if main == 0x010 { return id == 0x0010_f004 || (0x0010_f010...0x0010_f01f).contains(id) }
        return false
    }
}

/// The decoded value of a field.
public enum FieldValue: Sendable, Equatable {
    case unsigned(UInt64)
    case signed(Int64)
    case words([UInt32])
}

/// Xen's trace events: names, payload layouts, classes. Built from
/// ``CatalogueData`` (our own catalogue, written from Xen's headers and
/// sources); lookups by id are a flat table probe, so decoding a record
/// costs no hashing and no allocation.
public final class EventCatalogue: Sendable {
    /// The built-in catalogue.
    public static let shared = EventCatalogue(source: CatalogueData.text)

    public let events: [EventSpec]
    private let byID: [UInt32: Int]
    let compiled: CompiledCatalogue
    private let byName: [String: Int]
    /// Guest-generated events (class 0x0800) have ids chosen by the guest.
    public let guestSpec = EventSpec(id: 0x0800_f000, name: "guest:event",
        fields: [FieldSpec(name: "word", word: 0, kind: .rest)], comments: [], wordCount: 0)
    /// Anything we do not know.
    public let unknownSpec = EventSpec(id: 0, name: "unknown",
        fields: [FieldSpec(name: "word", word: 0, kind: .rest)], comments: [], wordCount: 0)

    public init(source: String) {
        var events: [EventSpec] = []
        var comments: [String] = []
        for line in source.split(separator: "\n") {
            if line.hasPrefix("#") { comments.append(String(line)); continue }
            let tokens = line.split(separator: " ")
            guard tokens.count >= 2, let id = UInt32(tokens[0].dropFirst(2), radix: 16) else {
                preconditionFailure("bad catalogue line: \(line)")
            }
            var fields: [FieldSpec] = []
            var word = 0
            for t in tokens.dropFirst(2) {
                if t == "_" { word += 1; continue }
                if t.hasPrefix("*") { fields.append(FieldSpec(name: String(t.dropFirst()), word: word, kind: .rest)); continue }
                if t.hasPrefix("{") {
                    var shift = 0
                    for part in t.dropFirst().dropLast().split(separator: ",") {
                        let p = part.split(separator: ":")
                        var spec = p[1]
                        let isSigned = spec.hasSuffix("i"), isHex = spec.hasSuffix("x")
                        if isSigned || isHex { spec = spec.dropLast() }
                        let width = Int(spec)!
                        if p[0] != "_" {
                            fields.append(FieldSpec(name: String(p[0]), word: word,
                                kind: .bits(shift: shift, width: width, signed: isSigned, hex: isHex)))
                        }
                        shift += width
                    }
                    word += 1
                    continue
                }
                let p = t.split(separator: ":")
                let kind: FieldSpec.Kind
                switch p.count > 1 ? p[1] : "" {
                case "": kind = .dec
                case "x": kind = .hex
                case "i": kind = .signed
                case "u64": kind = .dec64
                case "x64": kind = .hex64
                default: preconditionFailure("bad field \(t) in catalogue line: \(line)")
                }
                fields.append(FieldSpec(name: String(p[0]), word: word, kind: kind))
                word += (kind == .dec64 || kind == .hex64) ? 2 : 1
            }
            events.append(EventSpec(id: id, name: String(tokens[1]), fields: fields, comments: comments, wordCount: word))
            comments = []
        }
        self.events = events
        var byID: [UInt32: Int] = [:], byName: [String: Int] = [:]
        for (i, e) in events.enumerated() { byID[e.id] = i; byName[e.name] = i }
        self.byID = byID
        self.byName = byName
        compiled = CompiledCatalogue(events + [guestSpec, unknownSpec])
    }

    /// The spec for `id`, or nil when the catalogue has none (guest events excepted).
    public func spec(for id: UInt32) -> EventSpec? {
        if let i = byID[id] { return events[i] }
        if id >> 16 == 0x0800 { return guestSpec }
        return nil
    }

    /// Appends the name and ` field=value` pairs of `r` (our text format);
    /// `unknown(0x…)` or `guest:event(0x…)` for ids without their own entry.
    public func renderText(_ r: TraceRecord, into out: inout ByteSink) {
        let n = compiled.index(of: r.event)
        if n < 0 {
            compiled.render(events.count + (r.event >> 16 == 0x0800 ? 0 : 1), r, showID: true, into: &out)
        } else {
            compiled.render(n, r, showID: false, into: &out)
        }
    }

    /// The spec named `name`.
    public func spec(named name: String) -> EventSpec? { byName[name].map { events[$0] } }

    /// Decodes field `f` of a record's words (`count` of them present).
    public static func value(of f: FieldSpec, _ w: ExtraWords, count: Int) -> FieldValue {
        switch f.kind {
        case .dec, .hex: return .unsigned(UInt64(w[f.word]))
        case .signed: return .signed(Int64(Int32(bitPattern: w[f.word])))
        case .dec64, .hex64: return .unsigned(UInt64(w[f.word]) | UInt64(w[f.word + 1]) << 32)
        case let .bits(shift, width, signed, _):
            let raw = (w[f.word] >> UInt32(shift)) & (width == 32 ? ~0 : (1 << UInt32(width)) - 1)
            if signed && width < 32 && raw & (1 << UInt32(width - 1)) != 0 {
                return .signed(Int64(raw) - (1 << Int64(width)))
            }
            return .unsigned(UInt64(raw))
        case .rest:
            return .words(f.word < count ? (f.word..<count).map { w[$0] } : [])
        }
    }

    /// Whether a field is shown in hex.
    public static func isHex(_ f: FieldSpec) -> Bool {
        switch f.kind {
        case .hex, .hex64, .rest: return true
        case let .bits(_, _, _, hex): return hex
        default: return false
        }
    }

    /// Appends ` name=value` for each field of `spec` to `out` (the text of
    /// our own decode mode). Words a short record lacks are not shown.
    public static func renderFields(_ spec: EventSpec, _ r: TraceRecord, into out: inout ByteSink) {
        let count = r.extraCount
        let w = r.extra
        for f in spec.fields {
            let lastWord: Int
            switch f.kind {
            case .dec64, .hex64: lastWord = f.word + 1
            case .rest: lastWord = -1
            default: lastWord = f.word
            }
            if lastWord >= count { continue }
            out.append(0x20)
            out.append(f.name)
            out.append(0x3d)
            switch f.kind {
            case .dec: out.appendDecimal(UInt64(w[f.word]))
            case .hex: out.append(0x30); out.append(0x78); out.appendHex(UInt64(w[f.word]))
            case .signed: out.appendDecimal(Int64(Int32(bitPattern: w[f.word])))
            case .dec64: out.appendDecimal(UInt64(w[f.word]) | UInt64(w[f.word + 1]) << 32)
            case .hex64: out.append(0x30); out.append(0x78); out.appendHex(UInt64(w[f.word]) | UInt64(w[f.word + 1]) << 32)
            case .bits(_, _, _, let hex):
                switch value(of: f, w, count: count) {
                case .signed(let v): out.appendDecimal(v)
                case .unsigned(let v):
                    if hex { out.append(0x30); out.append(0x78); out.appendHex(v) } else { out.appendDecimal(v) }
                case .words: break
                }
            case .rest:
                out.append(0x5b)
                var i = f.word
                while i < count {
                    if i > f.word { out.append(0x2c) }
                    out.append(0x30); out.append(0x78); out.appendHex(UInt64(w[i]))
                    i += 1
                }
                out.append(0x5d)
            }
        }
    }

    /// Whether any domain field of the record equals `domain`.
    public static func mentions(domain: UInt32, _ spec: EventSpec, _ r: TraceRecord) -> Bool {
        let count = r.extraCount
        for f in spec.fields where f.isDomain && f.word < count {
            switch value(of: f, r.extra, count: count) {
            case .unsigned(let v): if v == UInt64(domain) { return true }
            case .signed(let v): if v == Int64(domain) { return true }
            case .words: break
            }
        }
        return false
    }
}

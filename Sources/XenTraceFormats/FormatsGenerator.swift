/// Writes the catalogue as a `formats` file in xentrace_format's syntax
/// (the file shipped as formats/xenscope.formats). Python %-formats cannot
/// split a word, so packed fields print their whole word in hex, labelled
/// with the field names from the highest bits down.
public enum FormatsGenerator {
    /// The prefix every line starts with, as in xentrace_format's conventional files.
    public static let prefix = "CPU%(cpu)d  %(tsc)d (+%(reltsc)8d)  "

    /// The formats file text for `catalogue`.
    /// With `architecture`, only the events Xen can emit there (arm64:
    /// common code only).
    public static func text(_ catalogue: EventCatalogue = .shared, architecture: TraceArchitecture? = nil) -> String {
        var s = """
        # xenscope.formats - XenScope's catalogue of Xen trace events, in the syntax of
        # xentrace_format (`<event id> <python %-format>`). Generated from
        # Sources/XenTraceFormats/CatalogueData.swift by `xenscope trace formats`; do not edit.
        # Baseline: Xen 4.17. Names are stable: analyses and scripts key on them.
        # Values: %(cpu) %(tsc) %(reltsc) %(event), %(1)..%(7) = payload words (0 when absent).

        """
        if let architecture { s += "# Only events Xen emits on \(architecture.rawValue).\n" }
        for e in catalogue.events where architecture.map({ e.exists(on: $0) }) ?? true {
            for c in e.comments { s += c + "\n" }
            s += String(format8(e.id)) + "  " + line(for: e) + "\n"
        }
        s += "# Fallback for every id without a line of its own.\n"
        s += "0x00000000  " + prefix + "unknown event=0x%(event)08x words=[ %(1)08x %(2)08x %(3)08x %(4)08x %(5)08x %(6)08x %(7)08x ]\n"
        return s
    }

    /// The format string of one event.
    public static func line(for e: EventSpec) -> String {
        var s = prefix + e.name
        var i = 0
        let f = e.fields
        while i < f.count {
            let k = f[i].word + 1
            switch f[i].kind {
            case .dec, .signed: s += " \(f[i].name)=%(\(k))d"
            case .hex: s += " \(f[i].name)=0x%(\(k))08x"
            case .dec64, .hex64: s += " \(f[i].name)=0x%(\(k + 1))08x%(\(k))08x"
            case .bits:
                var names: [String] = []
                var j = i
                while j < f.count, case .bits = f[j].kind, f[j].word == f[i].word { names.append(f[j].name); j += 1 }
                s += " " + names.reversed().joined(separator: ":") + "=0x%(\(k))08x"
                i = j
                continue
            case .rest:
                s += " \(f[i].name)=["
                if k <= 7 { for w in k...7 { s += " %(\(w))08x" } }
                s += " ]"
            }
            i += 1
        }
        return s
    }

    static func format8(_ id: UInt32) -> String {
        let h = String(id, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - h.count)) + h
    }
}

import XenTrace

/// Which records `xenscope trace decode` shows.
public struct DecodeFilter: Sendable {
    /// One `--event` argument, resolved.
    public enum EventSelector: Sendable, Equatable {
        /// Exactly this id.
        case id(UInt32)
        /// Xen's class/subclass mask rule (e.g. 0x0002f000 = all scheduler events).
        case mask(UInt32)
        /// Credit/credit2/… events: the SCHED_CLASS subclass with this scheduler id.
        case scheduler(UInt32)
        /// The event with this name and its 64-bit variant (`hvm:vmexit` → also `hvm:vmexit64`).
        case name(String)
        /// Every catalogue event whose name starts with `prefix:` or `prefix_` (e.g. `shadow:fixup`).
        case namePrefix(String)

        /// Whether a record's event number (and catalogue name) passes this term.
        public func matches(_ event: UInt32, _ name: String) -> Bool {
            switch self {
            case .id(let id): return event == id
            case .mask(let m): return EventID.matches(event, mask: m)
            case .scheduler(let s): return event & 0x0fff_fe00 == 0x0002_2000 | s << 9
            case .name(let n): return name == n || name == n + "64"
            case .namePrefix(let p): return name == p || name.hasPrefix(p + ":") || name.hasPrefix(p + "_")
            }
        }
    }

    /// Class and subclass names accepted by `--event`, with their masks.
    public static let classes: [(String, EventSelector)] = [
        ("gen", .mask(0x0001_f000)), ("sched", .mask(0x0002_f000)), ("runstate", .mask(0x0002_1000)),
        ("sched_class", .mask(0x0002_2000)), ("sched_verbose", .mask(0x0002_8000)),
        ("credit", .scheduler(0)), ("credit2", .scheduler(1)), ("arinc653", .scheduler(3)),
        ("rtds", .scheduler(4)), ("null", .scheduler(5)),
        ("dom0op", .mask(0x0004_f000)), ("hvm", .mask(0x0008_f000)), ("hvm_entryexit", .mask(0x0008_1000)),
        ("hvm_handler", .mask(0x0008_2000)), ("hvm_emul", .mask(0x0008_4000)), ("mem", .mask(0x0010_f000)),
        ("pv", .mask(0x0020_f000)), ("shadow", .mask(0x0040_f000)), ("hw", .mask(0x0080_f000)),
        ("pm", .mask(0x0080_1000)), ("irq", .mask(0x0080_2000)), ("guest", .mask(0x0800_f000)),
    ]

    /// A `--event` or `--cpu` value that cannot be read; says which part and why.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Resolves an `--event` argument: a class name (`sched`, `hvm`, `credit2`…),
    /// an event name or name prefix from the catalogue (`sched:switch`, `hvm:vmexit`),
    /// or a number: an id, or a mask when its low 12 bits are zero (`0x0002f000`).
    public static func selector(_ s: String, catalogue: EventCatalogue = .shared) throws -> EventSelector {
        let lower = s.lowercased()
        if let c = classes.first(where: { $0.0 == lower }) { return c.1 }
        if let v = FormatsFile.pythonInt(lower), v >= 0, v <= 0x0fff_ffff {
            let u = UInt32(v)
            return u & 0xfff == 0 && u != 0 ? .mask(u) : .id(u)
        }
        if catalogue.spec(named: lower) != nil || lower == "unknown" || lower == "guest:event" { return .name(lower) }
        if catalogue.events.contains(where: { EventSelector.namePrefix(lower).matches($0.id, $0.name) }) {
            return .namePrefix(lower)
        }
        throw ParseError(description: "unknown event `\(s)`: give an id (0x0002800a), a mask (0x0002f000), a class (\(classes.map { $0.0 }.joined(separator: ", "))) or a name such as sched:switch")
    }

    /// Parses a CPU list: `0,2,5-7`.
    public static func cpuList(_ s: String) throws -> Set<UInt32> {
        var set = Set<UInt32>()
        for part in s.split(separator: ",") {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2, let lo = UInt32(ends[0]), let hi = ends.count == 2 ? UInt32(ends[1]) : lo, lo <= hi, hi <= 65535 else {
                throw ParseError(description: "bad CPU list `\(s)`: want e.g. 0,2,5-7")
            }
            for c in lo...hi { set.insert(c) }
        }
        if set.isEmpty { throw ParseError(description: "empty CPU list") }
        return set
    }

    public var cpus: Set<UInt32>?
    public var events: [EventSelector] = []
    public var domain: UInt32?
    public var fromTSC: UInt64?
    public var toTSC: UInt64?

    public init() {}

    /// Whether anything is filtered at all.
    public var isEmpty: Bool { cpus == nil && events.isEmpty && domain == nil && fromTSC == nil && toTSC == nil }

    /// Whether `r` (described by `spec`, nil when unknown) passes. `tsc` is
    /// the record's effective TSC.
    public func accepts(_ r: TraceRecord, spec: EventSpec?, tsc: UInt64) -> Bool {
        if let cpus, !cpus.contains(r.cpu) { return false }
        if let fromTSC, tsc < fromTSC { return false }
        if let toTSC, tsc > toTSC { return false }
        if !events.isEmpty {
            let name = spec?.name ?? "unknown"
            if !events.contains(where: { $0.matches(r.event, name) }) { return false }
        }
        if let domain {
            guard let spec, EventCatalogue.mentions(domain: domain, spec, r) else { return false }
        }
        return true
    }
}

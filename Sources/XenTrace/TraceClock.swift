import BinaryIO

/// The clock behind a trace's timestamps, and the rate used to turn its
/// ticks into seconds.
///
/// Xen stamps records with whatever `get_cycles()` returns: the TSC on x86,
/// the generic timer's counter (`CNTPCT_EL0`) on arm64, which runs at its own
/// fixed rate (62.5 MHz under QEMU, 24–100 MHz on boards) unrelated to the
/// CPU clock. The trace file does not say which: the architecture comes from
/// `xl info` (`machine`, `xen_caps`), `--clock`, the recorder's metadata file,
/// or is inferred from x86-only events; otherwise it stays "timestamp counter".
public struct TraceClock: Sendable, Equatable, Codable {
    /// Which counter the timestamps are.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// x86 time-stamp counter.
        case tsc
        /// ARM generic timer, physical count (CNTPCT_EL0).
        case armGenericTimer = "arm-generic-timer"
        /// Not known: Xen's `get_cycles()`, whatever the architecture's counter is.
        case unknown = "timestamp-counter"
    }

    public var kind: Kind
    /// Ticks per second used for every time in seconds.
    public var hz: Double
    /// Where `hz` came from: "--cpu-hz", "xl-info", "default", a metadata file…
    public var hzSource: String

    public init(kind: Kind, hz: Double, hzSource: String) {
        self.kind = kind; self.hz = hz; self.hzSource = hzSource
    }

    /// The counter's name for people.
    public var name: String {
        switch kind {
        case .tsc: return "TSC"
        case .armGenericTimer: return "ARM generic timer (CNTPCT_EL0)"
        case .unknown: return "timestamp counter"
        }
    }

    /// What one count is called: cycles for a TSC, ticks for a timer.
    public var unit: String { kind == .armGenericTimer ? "ticks" : "cycles" }

    /// The rate for people: "2.400 GHz", "62.500 MHz".
    public var rateText: String {
        hz >= 1e9 ? fixed(hz / 1e9, 3) + " GHz" : fixed(hz / 1e6, 3) + " MHz"
    }

    /// The clock of a machine from `xl info` text: `machine : aarch64` or
    /// `xen_caps : xen-3.0-aarch64 …` → generic timer; x86_64 / hvm-3.0-x86… → TSC.
    public static func kind(xlInfo text: String) -> Kind? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].filter { $0 != " " && $0 != "\t" }
            let value = String(parts[1])
            if key == "machine" || key == "xen_caps" {
                if value.contains("aarch64") || value.contains("armv7") { return .armGenericTimer }
                if value.contains("x86") || value.contains("i686") { return .tsc }
            }
        }
        return nil
    }

    /// The clock for a machine architecture name (`uname -m`).
    public static func kind(machine: String) -> Kind {
        switch machine {
        case "x86_64", "i686", "i386": return .tsc
        case "aarch64", "arm64", "armv7l", "armv8l": return .armGenericTimer
        default: return .unknown
        }
    }

    /// `"clock":…,"clock_hz":…,"clock_hz_source":…` (no braces), for the
    /// metadata the exporters and the recorder write.
    public var jsonFields: String {
        "\"clock\":\"\(kind.rawValue)\",\"clock_name\":\"\(name)\",\"clock_hz\":\(fixed(hz, 0)),\"clock_hz_source\":\"\(JSONString.escaped(hzSource))\""
    }
}

/// `v` with `places` decimals (no Foundation in this module).
func fixed(_ v: Double, _ places: Int) -> String {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let r = (v * scale).rounded() / scale
    if places == 0 { return String(Int64(r)) }
    let whole = Int64(r.rounded(.towardZero))
    var frac = String(Int64(((abs(r) - Double(abs(whole))) * scale).rounded()))
    while frac.count < places { frac = "0" + frac }
    return (r < 0 && whole == 0 ? "-" : "") + String(whole) + "." + frac
}

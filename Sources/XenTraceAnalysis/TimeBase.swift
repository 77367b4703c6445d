import BinaryIO

/// Turning TSC cycles into seconds: parsing user-given frequencies.
public enum TimeBase {
    /// Parses "2400000000", "2.4G", "2400M", "62.5M".
    public static func parseHz(_ s: String) -> Double? {
        var t = Substring(s.trimmingCharacters())
        var mult = 1.0
        if let last = t.last {
            switch last {
            case "k", "K": mult = 1e3; t = t.dropLast()
            case "m", "M": mult = 1e6; t = t.dropLast()
            case "g", "G": mult = 1e9; t = t.dropLast()
            default: break
            }
        }
        guard let v = Double(t), v > 0 else { return nil }
        return v * mult
    }

    /// The `cpu_mhz` value of an `xl info` output.
    public static func cpuMHz(xlInfo text: String) -> Double? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters() == "cpu_mhz" {
                return Double(parts[1].trimmingCharacters())
            }
        }
        return nil
    }

    /// The smallest TSC of any record in the file (start of the trace).
    public static func firstTSC(path: String) throws -> UInt64 {
        let f = try MappedFile(path: path)
        return f.withView { b in
            var m = XenalyzeOrderWalk(b)
            var first: UInt64 = 0
            m.run { item in
                if first == 0, case .record(let r, let order) = item, r.hasTSC { first = order }
            }
            return first
        }
    }
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}

import Foundation

/// One gdb transcript written by lab/gdb_live.py: the output between the
/// "@@name" step markers, and the "@@time" figures.
public struct GDBTranscript {
    public let text: String

    public init(text: String) { self.text = text }

    /// The output of step `name` (up to the next marker).
    public func step(_ name: String) -> String {
        guard let r = text.range(of: "\n@@\(name)\n") else { return "" }
        let rest = text[r.upperBound...]
        let end = rest.range(of: "\n@@")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    /// `info registers` output as name → value.
    public static func registers(_ s: String) -> [String: UInt64] {
        var r: [String: UInt64] = [:]
        for m in s.matches(of: #/(?m)^([a-z][a-z0-9_]*)\s+0x([0-9a-f]+)\s/#) { r[String(m.1)] = UInt64(m.2, radix: 16) }
        return r
    }

    /// The `$N = 0x…` value gdb printed in step `name`.
    public func printed(_ name: String) -> UInt64? {
        step(name).firstMatch(of: #/\$\d+ = 0x([0-9a-f]+)/#).flatMap { UInt64($0.1, radix: 16) }
    }

    /// Words of an `x/Ngx` dump in step `name`.
    public func words(_ name: String) -> [UInt64] {
        step(name).matches(of: #/\t0x([0-9a-f]{16})/#).compactMap { UInt64($0.1, radix: 16) }
    }

    /// Seconds from an "@@time NAME seconds=S" line.
    public func seconds(_ name: String) -> Double? {
        text.firstMatch(of: try! Regex("@@time \(name) seconds=([0-9.]+)")).flatMap { Double($0.output[1].substring ?? "") }
    }
}

import Foundation

/// The stable JSON form of a ``TraceSummary`` (docs/summary-json.md):
/// keys sorted, so output is byte-for-byte reproducible.
public enum SummaryJSON {
    public static func encode(_ s: TraceSummary, pretty: Bool = true) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(s), as: UTF8.self)
    }

    public static func decode(_ data: Data) throws -> TraceSummary {
        try JSONDecoder().decode(TraceSummary.self, from: data)
    }
}

/// Things the analyses could not account for, counted per kind with the byte
/// offsets of the first few records involved, so a user can look at them with
/// `xenscope trace decode`. Never turned into invented numbers.
public struct AnomalyLog: Sendable {
    static let keepOffsets = 10
    struct Entry { var count = 0; var offsets: [Int] = []; var example = "" }
    private var entries: [String: Entry] = [:]

    public init() {}

    mutating func note(_ kind: String, offset: Int, _ message: @autoclosure () -> String) {
        var e = entries[kind] ?? Entry()
        e.count += 1
        if e.offsets.count < AnomalyLog.keepOffsets {
            e.offsets.append(offset)
            if e.example.isEmpty { e.example = message() }
        }
        entries[kind] = e
    }

    /// Adds another log's entries (of kinds this log does not have).
    mutating func absorb(_ o: AnomalyLog) {
        for (k, e) in o.entries {
            precondition(entries[k] == nil, "anomaly kind \(k) noted by two passes")
            entries[k] = e
        }
    }

    /// The log as model rows, sorted by kind.
    public var rows: [Anomaly] {
        entries.sorted { $0.key < $1.key }.map { Anomaly(kind: $0.key, count: $0.value.count, offsets: $0.value.offsets, example: $0.value.example) }
    }
}

/// One kind of unaccountable input: how often, where (first offsets), and an
/// example message.
public struct Anomaly: Sendable, Codable, Equatable {
    public var kind: String
    public var count: Int
    public var offsets: [Int]
    public var example: String
}

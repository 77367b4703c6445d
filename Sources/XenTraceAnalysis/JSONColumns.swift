/// A JSON object type described once as data: its columns, each a key and
/// how to write that member from a row. Every table of a document (the
/// summary's pCPUs, domains, exits…, the diff's rows) is then written by the
/// one loop in ``write(_:to:)`` instead of a hand-written block per type.
///
/// Columns are kept in byte order of their keys, as `JSONEncoder` with
/// `.sortedKeys` writes them, whatever order they are declared in. A member
/// whose value is nil is left out, as `JSONEncoder` leaves out a nil optional.
public struct JSONColumns<Row>: Sendable {
    /// One member of the object.
    public struct Column: Sendable {
        public let key: String
        /// Writes `"key" : value` for a row, or nothing when the row has no value.
        let write: @Sendable (JSONWriter, String, Row) -> Void
    }

    public let columns: [Column]

    public init(_ columns: [Column]) {
        self.columns = columns.sorted { byteOrder($0.key, $1.key) }
    }

    /// `row` as one JSON object.
    public func write(_ row: Row, to w: JSONWriter) {
        w.beginObject()
        for c in columns { c.write(w, c.key, row) }
        w.endObject()
    }

    /// The keys, in the order they are written.
    public var keys: [String] { columns.map(\.key) }
}

extension JSONColumns.Column {
    /// A member written by `body` (for shapes the other columns do not cover).
    public static func custom(_ key: String, _ body: @escaping @Sendable (JSONWriter, Row) -> Void) -> Self {
        Self(key: key) { w, k, r in w.key(k); body(w, r) }
    }

    /// An integer column; a nil value leaves the key out.
    public static func int<T: BinaryInteger>(_ key: String, _ value: @escaping @Sendable (Row) -> T?) -> Self {
        Self(key: key) { w, k, r in if let v = value(r) { w.field(k, v) } }
    }

    /// A floating-point column; a nil value leaves the key out.
    public static func double(_ key: String, _ value: @escaping @Sendable (Row) -> Double?) -> Self {
        Self(key: key) { w, k, r in if let v = value(r) { w.field(k, v) } }
    }

    /// A string column; a nil value leaves the key out.
    public static func string(_ key: String, _ value: @escaping @Sendable (Row) -> String?) -> Self {
        Self(key: key) { w, k, r in if let v = value(r) { w.field(k, v) } }
    }

    /// An array of integers.
    public static func ints(_ key: String, _ value: @escaping @Sendable (Row) -> [Int]) -> Self {
        Self(key: key) { w, k, r in w.array(k, value(r)) { w.int($0) } }
    }

    /// An array of strings.
    public static func strings(_ key: String, _ value: @escaping @Sendable (Row) -> [String]) -> Self {
        Self(key: key) { w, k, r in w.array(k, value(r)) { w.string($0) } }
    }

    /// A dictionary of counts, as an object with its keys in byte order.
    public static func counts(_ key: String, _ value: @escaping @Sendable (Row) -> [String: Int]) -> Self {
        Self(key: key) { w, k, r in
            w.object(k) {
                for (name, n) in sortedByKey(value(r)) { w.field(name, n) }
            }
        }
    }

    /// A nested object described by its own columns.
    public static func object<V>(_ key: String, _ table: JSONColumns<V>, _ value: @escaping @Sendable (Row) -> V?) -> Self {
        Self(key: key) { w, k, r in if let v = value(r) { w.key(k); table.write(v, to: w) } }
    }

    /// An array of objects described by their own columns.
    public static func array<V>(_ key: String, _ table: JSONColumns<V>, _ value: @escaping @Sendable (Row) -> [V]) -> Self {
        Self(key: key) { w, k, r in w.array(k, value(r)) { table.write($0, to: w) } }
    }
}

/// `a` before `b` in byte order of their UTF-8 (the order of `.sortedKeys`).
func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

/// Dictionary members in byte order of their keys.
func sortedByKey<V>(_ d: [String: V]) -> [(key: String, value: V)] { d.sorted { byteOrder($0.key, $1.key) } }

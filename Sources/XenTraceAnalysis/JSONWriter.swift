import BinaryIO

/// Writes JSON text as it is produced, with no document tree in memory:
/// values go into a small byte buffer that is handed to `output` whenever it
/// fills, so a summary of any size costs one buffer, not a copy of itself.
///
/// The text is the same as Foundation's `JSONEncoder` with `.sortedKeys`,
/// `.withoutEscapingSlashes` and (when `pretty`) `.prettyPrinted` writes, so
/// output stays byte-for-byte what scripts saw before: two-space indents,
/// `"key" : value`, an empty container printed open and closed on separate
/// lines, doubles as Swift prints them without a trailing `.0`. Keys are
/// written in the order the caller gives them; callers that promise sorted
/// keys write them sorted (byte order, as `.sortedKeys` does).
public final class JSONWriter {
    public let pretty: Bool
    /// Write `/` as `\/` (JSONEncoder's default without `.withoutEscapingSlashes`).
    public let escapeSlashes: Bool
    private var buffer: [UInt8] = []
    private let threshold: Int
    private let output: (ByteView) -> Void
    /// One entry per open container, innermost last.
    private var stack: [(object: Bool, count: Int)] = []
    /// A key has been written and its value is next.
    private var afterKey = false

    /// `output` receives the text in pieces of about `bufferSize` bytes (and
    /// the rest at ``flush()``).
    public init(pretty: Bool = true, escapeSlashes: Bool = false, bufferSize: Int = 1 << 16,
                output: @escaping (ByteView) -> Void) {
        self.pretty = pretty
        self.escapeSlashes = escapeSlashes
        threshold = max(bufferSize, 64)
        self.output = output
        buffer.reserveCapacity(threshold + 64)
    }

    deinit { flush() }

    /// Hands everything buffered to `output`.
    public func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withByteView { output($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Depth of open containers (0 when a top-level value is complete).
    public var depth: Int { stack.count }

    // MARK: structure

    /// Opens `{`; every ``key(_:)`` until ``endObject()`` belongs to it.
    public func beginObject() { open(object: true, UInt8(ascii: "{")) }
    /// Closes the innermost object.
    public func endObject() { close(object: true, UInt8(ascii: "}")) }
    /// Opens `[`; values until ``endArray()`` are its elements.
    public func beginArray() { open(object: false, UInt8(ascii: "[")) }
    /// Closes the innermost array.
    public func endArray() { close(object: false, UInt8(ascii: "]")) }

    /// The key of the next value in the current object.
    public func key(_ k: String) {
        precondition(stack.last?.object == true && !afterKey, "JSONWriter: a key belongs in an object, before its value")
        separate()
        writeString(k)
        if pretty { append(" : ") } else { buffer.append(UInt8(ascii: ":")) }
        afterKey = true
    }

    // MARK: values

    /// A string value, escaped by ``JSONString`` (RFC 8259).
    public func string(_ s: String) { beforeValue(); writeString(s) }
    /// An integer value, exact at any width (no Double rounding).
    public func int<T: BinaryInteger>(_ v: T) { beforeValue(); append(String(v)) }
    /// `true` or `false`.
    public func bool(_ v: Bool) { beforeValue(); append(v ? "true" : "false") }
    /// `null` (a value that is not known, kept so the key is always there).
    public func null() { beforeValue(); append("null") }

    /// A finite double as Swift prints it, minus a trailing `.0`
    /// (2400000000, 0.25, 1e-07). JSON has no NaN or infinity: those are
    /// written as null rather than as invalid text.
    public func double(_ v: Double) {
        beforeValue()
        guard v.isFinite else { append("null"); return }
        var s = v.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        append(s)
    }

    // MARK: keyed shorthands

    /// `"k" : "s"` in the current object.
    public func field(_ k: String, _ s: String) { key(k); string(s) }
    /// `"k" : v` for an integer.
    public func field<T: BinaryInteger>(_ k: String, _ v: T) { key(k); int(v) }
    /// `"k" : v` for a double (as ``double(_:)``).
    public func field(_ k: String, _ v: Double) { key(k); double(v) }
    /// `"k" : true|false`.
    public func field(_ k: String, _ v: Bool) { key(k); bool(v) }

    /// `"k" : { … }` with `body` writing the members.
    public func object(_ k: String, _ body: () -> Void) { key(k); beginObject(); body(); endObject() }
    /// `"k" : [ … ]` with `body` writing the elements.
    public func array(_ k: String, _ body: () -> Void) { key(k); beginArray(); body(); endArray() }
    /// `"k" : [ … ]`, one element per item.
    public func array<S: Sequence>(_ k: String, _ items: S, _ element: (S.Element) -> Void) {
        key(k); beginArray(); for i in items { element(i) }; endArray()
    }

    // MARK: internals

    private func open(object: Bool, _ b: UInt8) {
        beforeValue()
        buffer.append(b)
        stack.append((object, 0))
    }

    private func close(object: Bool, _ b: UInt8) {
        precondition(stack.last?.object == object && !afterKey, "JSONWriter: unbalanced close")
        let empty = stack.removeLast().count == 0
        if pretty {
            // JSONEncoder prints an empty container as open, an empty line, close.
            buffer.append(UInt8(ascii: "\n"))
            if empty { buffer.append(UInt8(ascii: "\n")) }
            indent(stack.count)
        }
        buffer.append(b)
        if buffer.count >= threshold { flush() }
    }

    /// Comma and newline before a member or element of the current container.
    private func separate() {
        let i = stack.count - 1
        if stack[i].count > 0 { buffer.append(UInt8(ascii: ",")) }
        stack[i].count += 1
        if pretty { buffer.append(UInt8(ascii: "\n")); indent(stack.count) }
    }

    private func beforeValue() {
        if afterKey {
            afterKey = false
        } else if let top = stack.last {
            precondition(!top.object, "JSONWriter: a value in an object needs a key first")
            separate()
        }
        if buffer.count >= threshold { flush() }
    }

    private func indent(_ level: Int) {
        for _ in 0..<(2 * level) { buffer.append(UInt8(ascii: " ")) }
    }

    private func append(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
    }

    /// A string as a JSON literal (``JSONString``: JSON's required escapes,
    /// short forms where JSON has them, everything else as UTF-8).
    private func writeString(_ s: String) {
        buffer.append(UInt8(ascii: "\""))
        JSONString.appendEscaped(s, escapeSlashes: escapeSlashes, to: &buffer)
        buffer.append(UInt8(ascii: "\""))
    }
}

import BinaryIO

/// A `formats` file in the syntax of Xen's `xentrace_format`: one definition
/// per line, `<id><whitespace><python %-format>`; lines starting with `#`
/// and empty lines are ignored; the id `0` is the fallback for ids without a
/// definition. Each format is compiled once (``PercentFormat``).
public struct FormatsFile: Sendable {
    /// A parse error, naming the line.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var line: Int
        public var message: String
        public var description: String { "\(path):\(line): \(message)" }
    }

    /// One definition line.
    public struct Definition: Sendable {
        public var id: UInt32
        public var format: PercentFormat
        public var line: Int
    }

    public let path: String
    /// Definitions by event id; a later line for the same id wins, as in xentrace_format.
    public private(set) var definitions: [UInt32: Definition] = [:]
    /// The definition for id 0 (used for every id without its own).
    public var fallback: Definition? { definitions[0] }

    /// Parses `text` (the file's contents). `path` names it in errors.
    public init(text: String, path: String = "<formats>") throws {
        self.path = path
        // Python reads the file with universal newlines.
        var lineNo = 0
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
        if let last = text.last, last == "\n" || last == "\r\n" || last == "\r" { lines.removeLast() }
        for raw in lines {
            lineNo += 1
            if raw.isEmpty || raw.hasPrefix("#") { continue }
            // re.match('(\S+)\s+(\S.*)'): a token at column 0, whitespace, then a non-space.
            let chars = Array(raw.unicodeScalars)
            var i = 0
            while i < chars.count && !FormatsFile.isSpace(chars[i]) { i += 1 }
            let token = String(String.UnicodeScalarView(chars[0..<i]))
            var j = i
            while j < chars.count && FormatsFile.isSpace(chars[j]) { j += 1 }
            // \s+ is greedy but may give back one character so that \S matches; it only
            // matters when the rest is all whitespace, which fails either way.
            guard i > 0, j > i, j < chars.count else {
                throw ParseError(path: path, line: lineNo, message: "not a definition (want `<event id> <format>`): \(raw)")
            }
            guard let value = FormatsFile.pythonInt(token) else {
                throw ParseError(path: path, line: lineNo, message: "event id `\(token)` is not an integer literal")
            }
            let format = String(String.UnicodeScalarView(chars[j...]))
            // Ids outside 0..<2^32 can never match a record (events are 28 bits).
            guard let id = UInt32(exactly: value) else { continue }
            definitions[id] = Definition(id: id, format: PercentFormat(format), line: lineNo)
        }
    }

    /// Reads and parses a formats file from disk.
    public init(path: String) throws {
        let text: String
        do {
            let file = try MappedFile(path: path)
            text = file.withBytes { String(decoding: $0, as: UTF8.self) }
        } catch let e as InputError {
            throw ParseError(path: path, line: 0, message: e.message)
        }
        try self.init(text: text, path: path)
    }

    /// The definition used for `event`: its own, else the fallback.
    @inlinable public func definition(for event: UInt32) -> Definition? {
        definitions[event] ?? definitions[0]
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\u{0B}" || c == "\u{0C}" || c == "\r"
            || c.properties.isWhitespace || (0x1c...0x1f).contains(c.value)
    }

    /// A Python integer literal (what `eval()` of the id column gives for the
    /// usual inputs): decimal, 0x/0o/0b prefixes, underscores, a sign.
    public static func pythonInt(_ s: String) -> Int64? {
        var t = Substring(s)
        var negative = false
        if t.hasPrefix("+") || t.hasPrefix("-") { negative = t.hasPrefix("-"); t = t.dropFirst() }
        var radix = 10
        let lower = t.lowercased()
        if lower.hasPrefix("0x") { radix = 16; t = t.dropFirst(2) }
        else if lower.hasPrefix("0o") { radix = 8; t = t.dropFirst(2) }
        else if lower.hasPrefix("0b") { radix = 2; t = t.dropFirst(2) }
        else if t.count > 1 && t.hasPrefix("0") && t.contains(where: { $0 != "0" && $0 != "_" }) { return nil }  // 0755 is a SyntaxError
        if t.hasPrefix("_") && radix == 10 { return nil }
        if t.hasSuffix("_") || t.contains("__") || t.isEmpty { return nil }
        let digits = String(t.filter { $0 != "_" })
        guard let v = Int64(digits, radix: radix) else { return nil }
        return negative ? -v : v
    }
}

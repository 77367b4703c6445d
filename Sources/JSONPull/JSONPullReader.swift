import BinaryIO

/// A pull reader for JSON text held in memory (usually a ``MappedFile``):
/// the caller asks for the next value by the type it expects, so nothing is
/// built that the caller does not keep — no document tree, no dictionaries.
///
/// Objects and arrays are walked with ``beginObject()``/``nextKey()`` and
/// ``beginArray()``/``nextElement()``; members the caller does not want are
/// passed over with ``skipValue()``. Any departure from RFC 8259 (or from
/// the type the caller asked for) throws an ``InputError`` naming the file
/// and the byte offset where it was found.
///
/// The bytes must outlive the reader and must not change while it reads.
public struct JSONPullReader {
    /// Name used in errors.
    public let file: String
    private let base: ByteView
    private let end: Int
    /// Offset of the next byte to look at.
    public private(set) var offset = 0
    /// True right after `{` or `[`: the next member or element needs no comma.
    private var first = false
    /// Open containers, bounded so that hostile nesting cannot exhaust the stack.
    private var depth = 0
    /// How deep containers may nest.
    public static let maxDepth = 512

    /// Reads `bytes`, which must stay valid and unchanged for the reader's life.
    public init(_ bytes: some ByteViewSource, file: String) {
        self.file = file
        base = bytes.byteView
        end = base.count
    }

    // MARK: errors

    /// An error at `at` (default: the current offset).
    public func error(_ message: String, at: Int? = nil) -> InputError {
        InputError(file: file, offset: at ?? offset, message)
    }

    private func describeNext() -> String {
        guard offset < end else { return "the end of the input" }
        let b = base[offset]
        if b >= 0x21 && b < 0x7f { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16))"
    }

    private func unexpected(_ wanted: String) -> InputError {
        error("expected \(wanted), found \(describeNext())")
    }

    // MARK: whitespace and punctuation

    @inline(__always) private mutating func skipSpace() {
        offset = base.firstOffset(from: offset) { $0 != 0x20 && $0 != 0x0a && $0 != 0x0d && $0 != 0x09 }
    }

    /// The next significant byte without consuming it (nil at the end).
    @inline(__always) private mutating func peek() -> UInt8? {
        skipSpace()
        return offset < end ? base[offset] : nil
    }

    // MARK: containers

    /// Consumes `{` and returns its offset; then call ``nextKey()`` until it returns nil.
    @discardableResult
    public mutating func beginObject() throws -> Int { try open(UInt8(ascii: "{"), "an object ('{')") }

    /// Consumes `[` and returns its offset; then call ``nextElement()`` until it returns false.
    @discardableResult
    public mutating func beginArray() throws -> Int { try open(UInt8(ascii: "["), "an array ('[')") }

    private mutating func open(_ b: UInt8, _ what: String) throws -> Int {
        guard peek() == b else { throw unexpected(what) }
        guard depth < JSONPullReader.maxDepth else { throw error("containers nested deeper than \(JSONPullReader.maxDepth)") }
        offset += 1
        depth += 1
        first = true
        return offset - 1
    }

    /// Where the next value starts (whitespace passed over), for errors about it.
    public mutating func valueOffset() -> Int {
        skipSpace()
        return offset
    }

    /// The key of the next member of the current object, its `:` consumed
    /// (the value is next); nil once the object's `}` has been consumed.
    public mutating func nextKey() throws -> JSONKey? {
        var b = peek()
        if b == UInt8(ascii: "}") {
            offset += 1; depth -= 1; first = false
            return nil
        }
        if !first {
            guard b == UInt8(ascii: ",") else { throw unexpected("',' or '}' in an object") }
            offset += 1
            b = peek()
        }
        guard b == UInt8(ascii: "\"") else { throw unexpected("a key (a string)") }
        let start = offset
        let key = try rawString()
        if !key.escaped && !key.raw.isASCII && key.raw.validatedUTF8() == nil {
            throw error("a key that is not valid UTF-8", at: start)
        }
        guard peek() == UInt8(ascii: ":") else { throw unexpected("':' after a key") }
        offset += 1
        first = false
        return JSONKey(raw: key.raw, decoded: key.escaped ? try decode(key.raw, at: start) : nil, offset: start)
    }

    /// True when the current array has another element (which is next);
    /// false once its `]` has been consumed.
    public mutating func nextElement() throws -> Bool {
        let b = peek()
        if b == UInt8(ascii: "]") {
            offset += 1; depth -= 1; first = false
            return false
        }
        if !first {
            guard b == UInt8(ascii: ",") else { throw unexpected("',' or ']' in an array") }
            offset += 1
        }
        first = false
        return true
    }

    /// Checks that nothing but whitespace follows the top-level value.
    public mutating func finish() throws {
        if peek() != nil { throw error("more bytes after the JSON value (\(describeNext()))") }
    }

    // MARK: values

    /// Consumes `null` and returns true, or consumes nothing and returns false.
    public mutating func consumeNull() throws -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// The next value as `true` or `false`; anything else is an error at its offset.
    public mutating func bool() throws -> Bool {
        switch peek() {
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        default: throw unexpected("true or false")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard base.matches(word, at: offset) else { throw unexpected("'\(word)'") }
        offset += n
    }

    /// A string value, unescaped and checked to be valid UTF-8.
    public mutating func string() throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw unexpected("a string") }
        let start = offset
        let s = try rawString()
        if s.escaped { return try decode(s.raw, at: start) }
        guard let v = s.raw.validatedUTF8() else { throw error("a string that is not valid UTF-8", at: start) }
        return v
    }

    /// A whole number that fits `Int` (no fraction, no exponent).
    public mutating func int() throws -> Int {
        let start = offset
        let (negative, magnitude) = try integer(limit: UInt64(Int.max) + 1)
        if negative { return magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude) }
        guard magnitude <= UInt64(Int.max) else { throw error("number \(magnitude) does not fit a 64-bit signed integer", at: start) }
        return Int(magnitude)
    }

    /// A whole number from 0 to 2^64 − 1.
    public mutating func uint64() throws -> UInt64 {
        let start = offset
        let (negative, magnitude) = try integer(limit: .max)
        guard !negative || magnitude == 0 else { throw error("a negative number where an unsigned one belongs", at: start) }
        return magnitude
    }

    /// A number as the nearest `Double` (correctly rounded, as `strtod`).
    public mutating func double() throws -> Double {
        guard let b = peek(), b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) else { throw unexpected("a number") }
        let start = offset
        let n = try scanNumber().length
        // strtod needs a terminated copy; numbers are short, the copy is on the stack.
        let v = base.strtod(start ..< start + n)
        guard v.isFinite else { throw error("a number beyond the range of a double", at: start) }
        return v
    }

    /// Passes over one value of any kind (validating it).
    public mutating func skipValue() throws {
        switch peek() {
        case UInt8(ascii: "{"):
            try beginObject()
            while try nextKey() != nil { try skipValue() }
        case UInt8(ascii: "["):
            try beginArray()
            while try nextElement() { try skipValue() }
        case UInt8(ascii: "\""):
            let start = offset
            let s = try rawString()
            if s.escaped { _ = try decode(s.raw, at: start) }
            else if s.raw.validatedUTF8() == nil { throw error("a string that is not valid UTF-8", at: start) }
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): _ = try consumeNull()
        case let b? where b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39): _ = try scanNumber()
        default: throw unexpected("a value")
        }
    }

    // MARK: scanning

    /// The bytes between the quotes (escapes left as they are); `offset` is at
    /// the opening quote and ends after the closing one.
    private mutating func rawString() throws -> (raw: ByteView, escaped: Bool) {
        let open = offset
        var i = offset + 1
        var escaped = false
        while true {
            // Ordinary bytes are passed over in one scan.
            i = base.firstOffset(from: i) { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }
            guard i < end else { throw error("a string that is not closed (it starts at byte \(open))") }
            let b = base[i]
            if b == UInt8(ascii: "\"") { break }
            if b == UInt8(ascii: "\\") {
                escaped = true
                i += 2
                continue
            }
            throw error("a control byte 0x\(String(b, radix: 16)) inside a string", at: i)
        }
        offset = i + 1
        return (base.subview(open + 1 ..< i), escaped)
    }

    /// Unescapes a string's raw bytes (which start after the quote at `at`).
    private func decode(_ raw: ByteView, at: Int) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ j: Int) throws -> UInt32 {
            guard j + 4 <= raw.count else { throw error("a \\u escape with fewer than 4 hex digits", at: at + 1 + j) }
            var v: UInt32 = 0
            for k in j ..< j + 4 {
                let c = raw[k]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: throw error("a \\u escape with a non-hex digit", at: at + 1 + k)
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while i < raw.count {
            let b = raw[i]
            guard b == UInt8(ascii: "\\") else { out.append(b); i += 1; continue }
            guard i + 1 < raw.count else { throw error("a string that ends in a lone backslash", at: at + 1 + i) }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(i)
                let at1 = at + 1 + i - 2
                i += 4
                if scalar >= 0xd800 && scalar < 0xdc00 {
                    // A high surrogate must be followed by an escaped low one.
                    guard i + 1 < raw.count, raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u") else {
                        throw error("a \\u escape of a lone high surrogate", at: at1)
                    }
                    let low = try hex4(i + 2)
                    guard low >= 0xdc00 && low < 0xe000 else { throw error("a \\u escape of a lone high surrogate", at: at1) }
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                } else if scalar >= 0xdc00 && scalar < 0xe000 {
                    throw error("a \\u escape of a lone low surrogate", at: at1)
                }
                out.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(scalar)!)!)
            default:
                throw error("an unknown escape '\\\(Character(Unicode.Scalar(e)))' in a string", at: at + 1 + i - 2)
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("a string that is not valid UTF-8", at: at) }
        return s
    }

    /// Checks JSON's number grammar from `offset` and moves past it.
    private mutating func scanNumber() throws -> (length: Int, integral: Bool) {
        let start = offset
        var i = offset
        @inline(__always) func digit(_ j: Int) -> Bool { j < end && base[j] >= 0x30 && base[j] <= 0x39 }
        if i < end && base[i] == UInt8(ascii: "-") { i += 1 }
        guard digit(i) else { offset = i; throw unexpected("a digit") }
        if base[i] == 0x30 {
            i += 1
            if digit(i) { throw error("a number with a leading zero", at: start) }
        } else {
            i = base.firstOffset(from: i) { $0 < 0x30 || $0 > 0x39 }
        }
        var integral = true
        if i < end && base[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard digit(i) else { offset = i; throw unexpected("a digit after '.'") }
            i = base.firstOffset(from: i) { $0 < 0x30 || $0 > 0x39 }
        }
        if i < end && (base[i] | 0x20) == UInt8(ascii: "e") {
            integral = false
            i += 1
            if i < end && (base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-")) { i += 1 }
            guard digit(i) else { offset = i; throw unexpected("a digit in the exponent") }
            i = base.firstOffset(from: i) { $0 < 0x30 || $0 > 0x39 }
        }
        offset = i
        return (i - start, integral)
    }

    /// A whole number's sign and magnitude, at most `limit`.
    private mutating func integer(limit: UInt64) throws -> (Bool, UInt64) {
        guard let b = peek(), b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) else { throw unexpected("a number") }
        let start = offset
        let (_, integral) = try scanNumber()
        guard integral else { throw error("a number with a fraction or exponent where a whole number belongs", at: start) }
        var i = start
        let negative = base[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var v: UInt64 = 0
        while i < offset {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(base[i] - 0x30))
            guard !o1 && !o2 && s <= limit else { throw error("a number too large for 64 bits", at: start) }
            v = s
            i += 1
        }
        return (negative, v)
    }
}

/// An object member's key, as it appears in the input. Compare it with a
/// string (`key == "name"`, or `case "name":` in a switch) without making one.
public struct JSONKey {
    /// The raw bytes between the quotes (escapes not undone).
    let raw: ByteView
    /// The unescaped key when it had escapes.
    let decoded: String?
    /// Where the key starts (its opening quote).
    public let offset: Int

    /// The key as a string.
    public var string: String { decoded ?? raw.decodedUTF8() }

    public static func == (k: JSONKey, s: String) -> Bool {
        if let d = k.decoded { return d == s }
        return k.raw.isUTF8(of: s)
    }

    /// Lets a `switch` over keys use string literals as patterns.
    public static func ~= (pattern: String, k: JSONKey) -> Bool { k == pattern }
}

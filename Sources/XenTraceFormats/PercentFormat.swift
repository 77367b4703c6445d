#if canImport(Glibc)
import Glibc
#endif

/// The values a `formats` line can name: `%(cpu)`, `%(tsc)`, `%(event)`,
/// `%(reltsc)` and `%(1)`…`%(7)` (the extra words).
public enum FormatKey: Sendable, Equatable {
    case cpu, tsc, event, reltsc
    /// Extra word 1…7 (stored as 0…6).
    case word(Int)

    init?(_ name: String) {
        switch name {
        case "cpu": self = .cpu
        case "tsc": self = .tsc
        case "event": self = .event
        case "reltsc": self = .reltsc
        case "1", "2", "3", "4", "5", "6", "7": self = .word(Int(name)! - 1)
        default: return nil
        }
    }
}

/// A value handed to a conversion: a Python int (sign + magnitude, so that
/// both full 64-bit TSCs and negative TSC deltas fit) or a float (TSC in
/// seconds with `-c MHZ`).
public enum FormatValue: Sendable, Equatable {
    case int(negative: Bool, magnitude: UInt64)
    case float(Double)

    /// An unsigned integer argument.
    @inlinable public static func u(_ v: UInt64) -> FormatValue { .int(negative: false, magnitude: v) }
    /// A signed integer argument.
    @inlinable public static func s(_ v: Int64) -> FormatValue { .int(negative: v < 0, magnitude: v.magnitude) }

    /// Python's `repr()` of the value (used when printing the args dict).
    var pythonRepr: String {
        switch self {
        case let .int(neg, mag): return (neg && mag != 0 ? "-" : "") + String(mag)
        case let .float(d): return PythonFloat.repr(d)
        }
    }
}

/// What happens when Python's `%` operator meets this format and xentrace_format's
/// argument dict. Decided left to right, like CPython does.
public enum FormatOutcome: Sendable, Equatable {
    /// Renders normally.
    case ok
    /// Raises TypeError for every record: xentrace_format then prints the raw
    /// format string and the argument dict on two lines.
    case typeError(String)
    /// Raises ValueError or KeyError: xentrace_format dies with a traceback
    /// at the first record that uses this format.
    case fatal(String)
}

/// One `%`-conversion of a compiled format.
public struct Conversion: Sendable, Equatable {
    /// nil: an unnamed conversion that receives the whole argument dict.
    public var key: FormatKey?
    public var leftJustify = false, plusSign = false, blankSign = false, alternate = false, zeroPad = false
    public var width = 0
    /// -1 when absent.
    public var precision = -1
    /// The conversion type character (d i u x X o c s r a e E f F g G).
    public var type: UInt8 = 0x64
}

/// A Python `%`-format string (as used by xentrace_format's `formats` files)
/// compiled once into literal runs and conversions, then rendered into a
/// ``ByteSink`` for each record without allocating.
public struct PercentFormat: Sendable, Equatable {
    /// A run of literal bytes, or one `%` conversion to fill from the record.
    public enum Piece: Sendable, Equatable {
        case literal([UInt8])
        case conversion(Conversion)
    }
    /// The format as written.
    public let source: String
    public let pieces: [Piece]
    public let outcome: FormatOutcome

    public init(_ source: String) {
        self.source = source
        var pieces: [Piece] = []
        var outcome = FormatOutcome.ok
        let b = Array(source.utf8)
        var lit: [UInt8] = []
        var i = 0
        var unnamedAvailable = true   // the dict can be taken by one unnamed conversion before any key
        // Index in characters (not bytes) for messages, like Python's.
        func charIndex(_ byteIndex: Int) -> Int { b[..<byteIndex].reduce(0) { $0 + (($1 & 0xc0) == 0x80 ? 0 : 1) } }
        scan: while i < b.count {
            if b[i] != 0x25 { lit.append(b[i]); i += 1; continue }
            i += 1
            guard i < b.count else { outcome = .fatal("ValueError: incomplete format"); break }
            if b[i] == 0x25 { lit.append(0x25); i += 1; continue }
            var c = Conversion()
            var keyed = false
            if b[i] == 0x28 {   // "(" key ")", parentheses nest
                var depth = 1
                let start = i + 1
                i += 1
                while i < b.count && depth > 0 {
                    if b[i] == 0x28 { depth += 1 } else if b[i] == 0x29 { depth -= 1 }
                    i += 1
                }
                guard depth == 0 else { outcome = .fatal("ValueError: incomplete format key"); break }
                let name = String(decoding: b[start..<(i - 1)], as: UTF8.self)
                guard let key = FormatKey(name) else { outcome = .fatal("KeyError: '\(name)'"); break }
                c.key = key
                keyed = true
                unnamedAvailable = false
            }
            flags: while i < b.count {
                switch b[i] {
                case 0x2d: c.leftJustify = true
                case 0x2b: c.plusSign = true
                case 0x20: c.blankSign = true
                case 0x23: c.alternate = true
                case 0x30: c.zeroPad = true
                default: break flags
                }
                i += 1
            }
            if i < b.count && b[i] == 0x2a {   // "*": needs a positional argument, and there are none
                outcome = .typeError("not enough arguments for format string")
                break scan
            }
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { c.width = min(c.width * 10 + Int(b[i] - 0x30), 1 << 20); i += 1 }
            if i < b.count && b[i] == 0x2e {
                i += 1
                c.precision = 0
                if i < b.count && b[i] == 0x2a { outcome = .typeError("not enough arguments for format string"); break scan }
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { c.precision = min(c.precision * 10 + Int(b[i] - 0x30), 1 << 20); i += 1 }
            }
            if i < b.count && (b[i] == 0x68 || b[i] == 0x6c || b[i] == 0x4c) { i += 1 }   // h l L are ignored
            guard i < b.count else { outcome = .fatal("ValueError: incomplete format"); break }
            let t = b[i]
            switch t {
            case UInt8(ascii: "d"), UInt8(ascii: "i"), UInt8(ascii: "u"), UInt8(ascii: "x"), UInt8(ascii: "X"),
                 UInt8(ascii: "o"), UInt8(ascii: "c"), UInt8(ascii: "s"), UInt8(ascii: "r"), UInt8(ascii: "a"),
                 UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "g"), UInt8(ascii: "G"):
                c.type = t
            default:
                let ch = String(decoding: [t], as: UTF8.self)
                outcome = .fatal("ValueError: unsupported format character '\(ch)' (0x\(String(t, radix: 16))) at index \(charIndex(i))")
                break scan
            }
            i += 1
            if !keyed {
                // An unnamed conversion gets the dict itself the first time, nothing after.
                if !unnamedAvailable { outcome = .typeError("not enough arguments for format string"); break scan }
                unnamedAvailable = false
                if t != UInt8(ascii: "s") && t != UInt8(ascii: "r") && t != UInt8(ascii: "a") {
                    outcome = .typeError("%\(String(decoding: [t], as: UTF8.self)) format: a real number is required, not dict")
                    break scan
                }
            }
            if !lit.isEmpty { pieces.append(.literal(lit)); lit = [] }
            pieces.append(.conversion(c))
        }
        if !lit.isEmpty { pieces.append(.literal(lit)) }
        self.pieces = pieces
        self.outcome = outcome
    }

    /// Renders with `value(key)` supplying the values and `dictRepr` the text
    /// of the whole argument dict (for an unnamed `%s`). Returns an error
    /// message instead of rendering when Python would raise for these values
    /// (`%c` out of range, a float where an int is needed); the message starts
    /// with "TypeError" when xentrace_format would catch it.
    public func render(into out: inout ByteSink, value: (FormatKey) -> FormatValue, dictRepr: () -> String) -> String? {
        for p in pieces {
            switch p {
            case .literal(let l): out.append(l)
            case .conversion(let c):
                guard let key = c.key else {
                    PercentFormat.pad(&out, Array(dictRepr().utf8), c, numeric: false)
                    continue
                }
                if let err = PercentFormat.convert(&out, value(key), c) { return err }
            }
        }
        return nil
    }

    /// Formats one value like CPython's `unicode_format_arg_output`.
    public static func convert(_ out: inout ByteSink, _ v: FormatValue, _ c: Conversion) -> String? {
        switch c.type {
        case UInt8(ascii: "s"), UInt8(ascii: "r"), UInt8(ascii: "a"):
            var text = Array(v.pythonRepr.utf8)
            if c.precision >= 0 && text.count > c.precision { text = Array(text[..<c.precision]) }
            pad(&out, text, c, numeric: false)
            return nil
        case UInt8(ascii: "c"):
            guard case let .int(neg, mag) = v else { return "TypeError: %c requires int or char" }
            guard !neg || mag == 0, mag < 0x110000 else { return "OverflowError: %c arg not in range(0x110000)" }
            guard !(0xd800...0xdfff).contains(mag) else { return "UnicodeEncodeError: surrogates not allowed" }
            let scalar = Unicode.Scalar(UInt32(mag))!
            var text: [UInt8] = []
            text.append(contentsOf: Array(String(Character(scalar)).utf8))
            // Width counts characters, not bytes.
            var c2 = c
            c2.width = c.width - 1 + text.count
            pad(&out, text, c2, numeric: false)
            return nil
        case UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "g"), UInt8(ascii: "G"):
            let d: Double
            switch v {
            case let .int(neg, mag): d = neg ? -Double(mag) : Double(mag)
            case let .float(x): d = x
            }
            formatFloat(&out, d, c)
            return nil
        default:
            let neg: Bool, mag: UInt64
            switch v {
            case let .int(n, m): neg = n && m != 0; mag = m
            case let .float(x):
                guard c.type == UInt8(ascii: "d") || c.type == UInt8(ascii: "i") || c.type == UInt8(ascii: "u") else {
                    return "TypeError: %\(String(decoding: [c.type], as: UTF8.self)) format: an integer is required, not float"
                }
                let t = x.rounded(.towardZero)
                neg = t < 0; mag = t.magnitude < 1.8446744073709552e19 ? UInt64(t.magnitude) : UInt64.max
            }
            formatInt(&out, negative: neg, magnitude: mag, c)
            return nil
        }
    }

    @inline(__always)
    static func formatInt(_ out: inout ByteSink, negative: Bool, magnitude: UInt64, _ c: Conversion) {
        // Digits, most significant first, in a fixed scratch area.
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes >= 22 octal digits
        withUnsafeMutableBytes(of: &scratch) { buf in
            var n = 0
            var x = magnitude
            let base: UInt64
            switch c.type {
            case UInt8(ascii: "x"), UInt8(ascii: "X"): base = 16
            case UInt8(ascii: "o"): base = 8
            default: base = 10
            }
            let upper = c.type == UInt8(ascii: "X")
            repeat {
                let d = UInt8(x % base)
                buf[23 - n] = d < 10 ? 0x30 + d : (upper ? 0x37 : 0x57) + d
                x /= base
                n += 1
            } while x > 0
            let digits = UnsafeRawBufferPointer(rebasing: buf[(24 - n)...])
            let zerosForPrecision = c.precision > n ? c.precision - n : 0
            let hasPrefix = c.alternate && base != 10
            let sign: UInt8? = negative ? 0x2d : (c.plusSign ? 0x2b : (c.blankSign ? 0x20 : nil))
            let len = (sign == nil ? 0 : 1) + (hasPrefix ? 2 : 0) + zerosForPrecision + n
            let padCount = c.width > len ? c.width - len : 0
            let zeroFill = c.zeroPad && !c.leftJustify
            if !c.leftJustify && !zeroFill { out.append(repeating: 0x20, count: padCount) }
            if let sign { out.append(sign) }
            if hasPrefix { out.append(0x30); out.append(base == 16 ? c.type : UInt8(ascii: "o")) }
            if zeroFill { out.append(repeating: 0x30, count: padCount) }
            out.append(repeating: 0x30, count: zerosForPrecision)
            for d in digits { out.append(d) }
            if c.leftJustify { out.append(repeating: 0x20, count: padCount) }
        }
    }

    static func formatFloat(_ out: inout ByteSink, _ d: Double, _ c: Conversion) {
        // Python formats finite floats like C; build the C spec without width
        // and pad ourselves so sign and zero handling follow Python's rules.
        var text: [UInt8]
        if d.isNaN || d.isInfinite {
            text = Array((d.isNaN ? "nan" : (d < 0 ? "-inf" : "inf")).utf8)
            if c.type < 0x60 { text = text.map { $0 >= 0x61 ? $0 - 0x20 : $0 } }
        } else {
            var spec = "%"
            if c.alternate { spec += "#" }
            spec += ".\(c.precision >= 0 ? c.precision : 6)"
            spec += String(decoding: [c.type], as: UTF8.self)
            var buf = [CChar](repeating: 0, count: 400)
            let n = withVaList([d]) { vsnprintf(&buf, buf.count, spec, $0) }
            if n >= buf.count {
                buf = [CChar](repeating: 0, count: Int(n) + 1)
                _ = withVaList([d]) { vsnprintf(&buf, buf.count, spec, $0) }
            }
            text = buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }
        }
        var neg = false
        if text.first == 0x2d { neg = true; text.removeFirst() }
        let sign: UInt8? = neg ? 0x2d : (c.plusSign ? 0x2b : (c.blankSign ? 0x20 : nil))
        let len = (sign == nil ? 0 : 1) + text.count
        let padCount = c.width > len ? c.width - len : 0
        let zeroFill = c.zeroPad && !c.leftJustify
        if !c.leftJustify && !zeroFill { out.append(repeating: 0x20, count: padCount) }
        if let sign { out.append(sign) }
        if zeroFill { out.append(repeating: 0x30, count: padCount) }
        out.append(text)
        if c.leftJustify { out.append(repeating: 0x20, count: padCount) }
    }

    /// Pads a non-numeric conversion (strings, %c) to its width with spaces.
    static func pad(_ out: inout ByteSink, _ text: [UInt8], _ c: Conversion, numeric: Bool) {
        // Width counts characters; our text is ASCII except %c, which adjusts the width itself.
        let padCount = c.width > text.count ? c.width - text.count : 0
        if !c.leftJustify { out.append(repeating: 0x20, count: padCount) }
        out.append(text)
        if c.leftJustify { out.append(repeating: 0x20, count: padCount) }
    }
}

/// Python's `repr()` of a float: the shortest digits that round-trip,
/// in positional notation for exponents -4 ..< 16, scientific otherwise.
enum PythonFloat {
    static func repr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description is also shortest-round-trip; take its digits and exponent.
        var s = "\(d.magnitude)"
        var exp = 0
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exp = Int(s[s.index(after: e)...])!
            s = String(s[..<e])
        }
        var intPart = s, frac = ""
        if let dot = s.firstIndex(of: ".") { intPart = String(s[..<dot]); frac = String(s[s.index(after: dot)...]) }
        var digits = intPart + frac
        var decExp = exp + intPart.count   // value = 0.digits × 10^decExp
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); decExp -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sci = decExp - 1
        var out = d < 0 ? "-" : ""
        if sci < -4 || sci >= 16 {
            out += String(digits.first!)
            if digits.count > 1 { out += "." + digits.dropFirst() }
            out += "e" + (sci < 0 ? "-" : "+") + (abs(sci) < 10 ? "0" : "") + String(abs(sci))
        } else if decExp <= 0 {
            out += "0." + String(repeating: "0", count: -decExp) + digits
        } else if decExp >= digits.count {
            out += digits + String(repeating: "0", count: decExp - digits.count) + ".0"
        } else {
            let idx = digits.index(digits.startIndex, offsetBy: decExp)
            out += digits[..<idx] + "." + digits[idx...]
        }
        return out
    }
}

/// JSON string literals (RFC 8259), the one escaper every JSON writer uses
/// (`JSONWriter`, `trace info/record/synth --json`, the decoder's JSON
/// Lines header, the recorder's metadata file).
///
/// Escaped: `"` and `\`, and every control character below 0x20: `\b`, `\f`,
/// `\n`, `\r` and `\t` in their short forms, the others as `\u00XX` (lowercase
/// hex) — exactly what Foundation's `JSONEncoder` writes, so text written here
/// equals its output. Everything else, DEL and U+2028 included, is passed
/// through as UTF-8 (RFC 8259 needs no more). A Swift `String` is always valid
/// UTF-8; bytes that should be text but are not (``literal(utf8:)``) have each
/// invalid sequence replaced by U+FFFD, as `String(decoding:as:)` does, so the
/// output is always valid JSON and valid UTF-8.
public enum JSONString {
    /// Appends `s` escaped (without the quotes) to `out`. `escapeSlashes`:
    /// `/` as `\/` too (`JSONEncoder` without `.withoutEscapingSlashes`).
    public static func appendEscaped(_ s: String, escapeSlashes: Bool = false, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendEscaped(validUTF8: $0, escapeSlashes: escapeSlashes, to: &out) }
    }

    /// `s` escaped, without the quotes.
    public static func escaped(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        appendEscaped(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `s` as a JSON string literal, quotes included.
    public static func literal(_ s: String) -> String { "\"" + escaped(s) + "\"" }

    /// Bytes meant as UTF-8 text as a JSON string literal: each invalid
    /// sequence becomes U+FFFD (the replacement character, `\u{FFFD}`).
    public static func literal(utf8 bytes: some Collection<UInt8>) -> String {
        literal(String(decoding: bytes, as: UTF8.self))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendEscaped(validUTF8 bytes: UnsafeBufferPointer<UInt8>, escapeSlashes: Bool, to out: inout [UInt8]) {
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "/") where escapeSlashes: out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0c: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0x0a: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0d: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "u")); out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "0"))
                out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 0xf)])
            default: out.append(b)
            }
        }
    }
}

import BinaryIO
import JSONPull
import Testing

/// Runs `body` on a reader over `text`'s UTF-8 bytes.
func reading<T>(_ text: String, _ body: (inout JSONPullReader) throws -> T) throws -> T {
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { buf in
        var r = JSONPullReader(buf, file: "t.json")
        return try body(&r)
    }
}

/// The error `body` throws on `text` (nil when it throws none).
func failure<T>(_ text: String, _ body: (inout JSONPullReader) throws -> T) -> InputError? {
    do { _ = try reading(text, body); return nil } catch let e as InputError { return e } catch { return nil }
}

@Suite struct JSONPullReaderTests {
    @Test func walksObjectsAndArrays() throws {
        let text = #"{ "a" : [1, -2, 3], "b" : {"c": "x"}, "d": [], "e": {} , "f" : null, "g": true, "h": false }"#
        let got = try reading(text) { r -> [String] in
            var out: [String] = []
            try r.beginObject()
            while let k = try r.nextKey() {
                switch k {
                case "a":
                    try r.beginArray()
                    while try r.nextElement() { out.append("a\(try r.int())") }
                case "b":
                    try r.beginObject()
                    while let k2 = try r.nextKey() { out.append("b.\(k2.string)=\(try r.string())") }
                case "d":
                    try r.beginArray()
                    while try r.nextElement() { out.append("d?") }
                    out.append("d[]")
                case "f": out.append("f null \(try r.consumeNull())")
                case "g", "h": out.append("\(k.string) \(try r.bool())")
                default: out.append("skip \(k.string) at \(k.offset)"); try r.skipValue()
                }
            }
            try r.finish()
            return out
        }
        #expect(got == ["a1", "a-2", "a3", "b.c=x", "d[]", "skip e at 47", "f null true", "g true", "h false"])
    }

    @Test func exactIntegers() throws {
        let v = try reading("[0, -0, 9223372036854775807, -9223372036854775808, 18446744073709551615]") { r -> [String] in
            try r.beginArray()
            #expect(try r.nextElement()); let a = try r.int()
            #expect(try r.nextElement()); let b = try r.int()
            #expect(try r.nextElement()); let c = try r.int()
            #expect(try r.nextElement()); let d = try r.int()
            #expect(try r.nextElement()); let e = try r.uint64()
            #expect(try !r.nextElement())
            return ["\(a)", "\(b)", "\(c)", "\(d)", "\(e)"]
        }
        #expect(v == ["0", "0", "9223372036854775807", "-9223372036854775808", "18446744073709551615"])
        #expect(failure("9223372036854775808") { try $0.int() }?.description
                == "t.json: at byte 0 (0x0): number 9223372036854775808 does not fit a 64-bit signed integer")
        #expect(failure(" 18446744073709551616") { try $0.uint64() }?.description
                == "t.json: at byte 1 (0x1): a number too large for 64 bits")
        #expect(failure("-1") { try $0.uint64() }?.description
                == "t.json: at byte 0 (0x0): a negative number where an unsigned one belongs")
        #expect(failure("1.5") { try $0.int() }?.description
                == "t.json: at byte 0 (0x0): a number with a fraction or exponent where a whole number belongs")
        #expect(failure("012") { try $0.int() }?.description == "t.json: at byte 0 (0x0): a number with a leading zero")
        #expect(failure("-x") { try $0.int() }?.description == "t.json: at byte 1 (0x1): expected a digit, found 'x'")
    }

    /// Doubles are correctly rounded: the text Swift prints reads back to the same bits.
    @Test func exactDoubles() throws {
        let cases: [(String, Double)] = [
            ("0.1", 0.1), ("1e-07", 1e-07), ("2400000000", 2_400_000_000), ("-0.25", -0.25),
            ("5e-324", 5e-324), ("1.7976931348623157e+308", .greatestFiniteMagnitude),
            ("0.30000000000000004", 0.1 + 0.2), ("123456.789E-3", 123.456789), ("3.3333333333333335", 10.0 / 3),
        ]
        for (text, want) in cases {
            let got = try reading(text) { try $0.double() }
            #expect(got.bitPattern == want.bitPattern, "\(text) → \(got), want \(want)")
        }
        #expect(failure("1.") { try $0.double() }?.description == "t.json: at byte 2 (0x2): expected a digit after '.', found the end of the input")
        #expect(failure("1e+") { try $0.double() }?.description == "t.json: at byte 3 (0x3): expected a digit in the exponent, found the end of the input")
        #expect(failure("-1e400") { try $0.double() }?.description == "t.json: at byte 0 (0x0): a number beyond the range of a double")
        #expect(try reading("1e-400") { try $0.double() } == 0)
        #expect(failure("NaN") { try $0.double() }?.description == "t.json: at byte 0 (0x0): expected a number, found 'N'")
    }

    @Test func stringEscapes() throws {
        let s = try reading(#""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00 é""#) { try $0.string() }
        #expect(s == "a\"b\\c/d\u{8}\u{c}\n\r\tAé€😀 é")
        let k = try reading(#"{"k\u0065y": 1}"#) { r -> Bool in try r.beginObject(); return try r.nextKey()! == "key" }
        #expect(k)
        #expect(failure(#""ab"#) { try $0.string() }?.description == "t.json: at byte 0 (0x0): a string that is not closed (it starts at byte 0)")
        #expect(failure("\"a\u{1}\"") { try $0.string() }?.description == "t.json: at byte 2 (0x2): a control byte 0x1 inside a string")
        #expect(failure(#""\q""#) { try $0.string() }?.description == #"t.json: at byte 1 (0x1): an unknown escape '\q' in a string"#)
        #expect(failure(#""x\ud800y""#) { try $0.string() }?.description == #"t.json: at byte 2 (0x2): a \u escape of a lone high surrogate"#)
        #expect(failure(#""\udc00""#) { try $0.string() }?.description == #"t.json: at byte 1 (0x1): a \u escape of a lone low surrogate"#)
        #expect(failure(#""\u12g4""#) { try $0.string() }?.description == #"t.json: at byte 5 (0x5): a \u escape with a non-hex digit"#)
        let bad: [UInt8] = [0x22, 0x61, 0xff, 0x22]
        let e = bad.withUnsafeBytes { b -> InputError? in
            var r = JSONPullReader(b, file: "b.json")
            do { _ = try r.string(); return nil } catch { return error as? InputError }
        }
        #expect(e?.description == "b.json: at byte 0 (0x0): a string that is not valid UTF-8")
    }

    @Test func structureErrorsNameTheOffset() {
        func walk(_ r: inout JSONPullReader) throws { try r.skipValue(); try r.finish() }
        #expect(failure(#"{"a" 1}"#, walk)?.description == "t.json: at byte 5 (0x5): expected ':' after a key, found '1'")
        #expect(failure(#"{"a": 1 "b": 2}"#, walk)?.description == "t.json: at byte 8 (0x8): expected ',' or '}' in an object, found '\"'")
        #expect(failure("[1, 2", walk)?.description == "t.json: at byte 5 (0x5): expected ',' or ']' in an array, found the end of the input")
        #expect(failure("[1,]", walk)?.description == "t.json: at byte 3 (0x3): expected a value, found ']'")
        #expect(failure("{1: 2}", walk)?.description == "t.json: at byte 1 (0x1): expected a key (a string), found '1'")
        #expect(failure("[1] x", walk)?.description == "t.json: at byte 4 (0x4): more bytes after the JSON value ('x')")
        #expect(failure("tru", walk)?.description == "t.json: at byte 0 (0x0): expected 'true', found 't'")
        #expect(failure("", walk)?.description == "t.json: at byte 0 (0x0): expected a value, found the end of the input")
        #expect(failure("[}", walk)?.description == "t.json: at byte 1 (0x1): expected a value, found '}'")
        // Hostile nesting stops at the limit instead of exhausting the stack.
        let deep = String(repeating: "[", count: 100_000)
        #expect(failure(deep, walk)?.description == "t.json: at byte 512 (0x200): containers nested deeper than 512")
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(failure(ok, walk) == nil)
    }

    /// Every prefix of a valid document is an error (never a crash or a hang),
    /// and the document itself reads.
    @Test func everyPrefixFailsCleanly() throws {
        let text = #"{"a": [1, 2.5e3, "x\u00e9y", {"b": null}], "c": true, "d": -7}"#
        let bytes = Array(text.utf8)
        for n in 0 ..< bytes.count {
            let e = bytes[0 ..< n].withUnsafeBytes { b -> InputError? in
                var r = JSONPullReader(b, file: "p.json")
                do { try r.skipValue(); try r.finish(); return nil } catch { return error as? InputError }
            }
            #expect(e != nil && e!.offset! <= n, "prefix of \(n) bytes")
        }
        #expect(failure(text) { r in try r.skipValue(); try r.finish() } == nil)
    }
}

import Testing
@testable import XenTraceFormats

/// Python %-formatting of ints, checked against values CPython 3.11 prints.
@Suite struct PercentFormatTests {
    func render(_ f: String, _ v: FormatValue) -> String {
        let pf = PercentFormat(f)
        var out = ByteSink()
        let err = pf.render(into: &out, value: { _ in v }, dictRepr: { "{}" })
        return err ?? String(decoding: out.bytes, as: UTF8.self)
    }

    @Test func integerConversions() {
        let cases: [(String, Int64, String)] = [
            ("%(1)-05d", 5, "5    "), ("%(1)08.3d", 5, "00000005"), ("%(1)08.3d", -7, "-0000007"),
            ("%(1)+5d", 0, "   +0"), ("%(1) d", 5, " 5"), ("%(1)#x", -7, "-0x7"), ("%(1)#08x", 12345, "0x003039"),
            ("%(1)#-8x|", 5, "0x5     |"), ("%(1)#o", 12345, "0o30071"), ("%(1).3x", -7, "-007"),
            ("%(1)05s", -7, "   -7"), ("%(1).2s", 12345, "12"), ("%(1)#5X", -7, " -0X7"), ("%(1)e", 12345, "1.234500e+04"),
            ("%(1)10.3f", -7, "    -7.000"), ("%(1)#g", 12345, "12345.0"), ("%(1)-08d|", 12345, "12345   |"),
            ("%(1) 05d", -7, "-0007"), ("%(1)+#010x", 5, "+0x0000005"), ("%(1)ld", 5, "5"), ("%(1)08x", 0xffff_ffff, "ffffffff"),
            ("%(1)5c", 65, "    A"), ("%(1)r|%%", 3, "3|%"),
        ]
        for (f, v, want) in cases { #expect(render(f, .s(v)) == want, "\(f) % \(v)") }
        #expect(render("%(1)d", .u(UInt64.max)) == "18446744073709551615")
        #expect(render("%(1)d", .float(12.9)) == "12")
        #expect(render("%(1)s", .float(0.000012)) == "1.2e-05")
        #expect(render("%(1)s", .float(2083.5)) == "2083.5")
        #expect(render("%(1)x", .float(1)).hasPrefix("TypeError"))
        #expect(render("%(1)c", .u(0x110000)).hasPrefix("OverflowError"))
    }

    @Test func byteSinkNumbers() {
        var values: [UInt64] = [0, 9, 10, 99, 100, 12_345_678, 99_999_999, 100_000_000, 123_456_789_012,
                                9_999_999_999_999_999, 10_000_000_000_000_000, UInt64.max]
        var p: UInt64 = 1
        for _ in 0..<19 { p *= 10; values += [p - 1, p, p + 1] }
        var out = ByteSink(capacity: 8)
        for v in values {
            out.reset()
            out.appendDecimal(v)
            #expect(String(decoding: out.bytes, as: UTF8.self) == String(v))
            out.reset()
            out.appendHex(v, width: 8)
            let h = String(v, radix: 16)
            #expect(String(decoding: out.bytes, as: UTF8.self) == String(repeating: "0", count: max(0, 8 - h.count)) + h)
        }
        out.reset()
        out.appendDecimal(Int64.min)
        #expect(String(decoding: out.bytes, as: UTF8.self) == String(Int64.min))
        out.reset()
        for _ in 0..<1000 { out.append(repeating: 0x41, count: 3) }
        #expect(out.count == 3000)
        out.remove(at: 0)
        out.truncate(to: 10)
        #expect(out.bytes == [UInt8](repeating: 0x41, count: 10))
    }

    @Test func outcomesFollowCPython() {
        #expect(PercentFormat("%(8)d").outcome == .fatal("KeyError: '8'"))
        #expect(PercentFormat("%q %(3)d").outcome == .fatal("ValueError: unsupported format character 'q' (0x71) at index 1"))
        #expect(PercentFormat("%(1)").outcome == .fatal("ValueError: incomplete format"))
        #expect(PercentFormat("%(1").outcome == .fatal("ValueError: incomplete format key"))
        #expect(PercentFormat("%5%").outcome == .fatal("ValueError: unsupported format character '%' (0x25) at index 2"))
        #expect(PercentFormat("%d").outcome == .typeError("%d format: a real number is required, not dict"))
        #expect(PercentFormat("%(1)d %s").outcome == .typeError("not enough arguments for format string"))
        #expect(PercentFormat("%(1)*d").outcome == .typeError("not enough arguments for format string"))
        #expect(PercentFormat("%s").outcome == .ok)
    }

    @Test func formatsFileSyntax() throws {
        let text = "# comment\n\n0x0002800a  A %(1)d\r\n0X10 B\n0b11 C %%\n0o17   D\n12 E\n0x0002800a  F\n"
        let f = try FormatsFile(text: text, path: "t")
        #expect(f.definitions.count == 5)
        #expect(f.definitions[0x0002_800a]?.format.source == "F")
        #expect(f.definitions[0x0002_800a]?.line == 8)
        #expect(f.definitions[16]?.format.source == "B")
        #expect(f.definitions[3]?.format.source == "C %%")
        #expect(f.fallback == nil)
        #expect(throws: FormatsFile.ParseError.self) { try FormatsFile(text: " 0x1 indented\n", path: "t") }
        #expect(throws: FormatsFile.ParseError.self) { try FormatsFile(text: "0x1\n", path: "t") }
        #expect(throws: FormatsFile.ParseError.self) { try FormatsFile(text: "0x1g  X\n", path: "t") }
        #expect(FormatsFile.pythonInt("0x_1f") == 31)
        #expect(FormatsFile.pythonInt("1_000") == 1000)
        #expect(FormatsFile.pythonInt("017") == nil)
    }
}

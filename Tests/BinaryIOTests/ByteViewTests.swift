#if canImport(Glibc)
import Glibc
#endif
import BinaryIO
import Testing

@Suite struct ByteViewTests {
    static let bytes: [UInt8] = [0x78, 0x56, 0x34, 0x12, 0xef, 0xcd, 0xab, 0x89, 0x01, 0x02, 0x03]

    @Test func readsLittleEndianAtAnyAlignment() {
        ByteViewTests.bytes.withByteView { v in
            #expect(v.count == 11)
            #expect(v.uint8(at: 0) == 0x78)
            #expect(v[10] == 0x03)
            #expect(v.uint16LE(at: 0) == 0x5678)
            #expect(v.uint16LE(at: 9) == 0x0302)
            #expect(v.uint32LE(at: 0) == 0x1234_5678)
            #expect(v.uint32LE(at: 1) == 0xef12_3456)
            #expect(v.uint32LE(at: 7) == 0x0302_0189)
            #expect(v.uint64LE(at: 0) == 0x89ab_cdef_1234_5678)
            #expect(v.uint64LE(at: 3) == 0x0302_0189_abcd_ef12)
        }
    }

    @Test func subviewsAreIndexedFromZero() {
        ByteViewTests.bytes.withByteView { v in
            let s = v.subview(4 ..< 9)
            #expect(s.count == 5)
            #expect(Array(s) == [0xef, 0xcd, 0xab, 0x89, 0x01])
            #expect(s.uint32LE(at: 1) == 0x0189_abcd)
            #expect(v.subview(11 ..< 11).isEmpty)
            #expect(Array(v) == ByteViewTests.bytes)
        }
    }

    @Test func comparesBytes() {
        Array("null, true".utf8).withByteView { v in
            #expect(v.matches("null", at: 0))
            #expect(v.matches("true", at: 6))
            #expect(!v.matches("true", at: 7))    // would run past the end
            #expect(!v.matches("null", at: -1))
            #expect(v.matches("", at: 10))
            #expect(v.subview(0 ..< 4).isUTF8(of: "null"))
            #expect(!v.subview(0 ..< 4).isUTF8(of: "nul"))
            #expect(!v.subview(0 ..< 4).isUTF8(of: "nulll"))
            #expect(v.subview(3 ..< 3).isUTF8(of: ""))
            #expect(v.matches(v.subview(6 ..< 10), at: 6))
            #expect(!v.matches(v.subview(6 ..< 10), at: 0))
        }
        "é€".utf8.withByteView { v in
            #expect(v.count == 5)
            #expect(v.isUTF8(of: "é€"))
            #expect(String(decoding: v, as: UTF8.self) == "é€")
        }
    }

    @Test func parsesDoublesAsStrtod() {
        Array("[2.5e3,-0.1,1e400,7]".utf8).withByteView { v in
            #expect(v.strtod(1 ..< 6) == 2500)
            #expect(v.strtod(7 ..< 11) == -0.1)
            #expect(v.strtod(12 ..< 17) == .infinity)
            #expect(v.strtod(18 ..< 19) == 7)
            // Only the range is read: the ']' after it does not count.
            #expect(v.strtod(18 ..< 18) == 0)
        }
    }

    @Test func viewsOfNonContiguousSequencesAreCopies() {
        let seq = (0 ..< 300).lazy.map { UInt8($0 & 0xff) }
        let sum = seq.withByteView { v -> Int in
            #expect(v.count == 300)
            #expect(v.uint16LE(at: 255) == 0x00ff)
            return v.reduce(0) { $0 + Int($1) }
        }
        #expect(sum == (0 ..< 300).reduce(0) { $0 + ($1 & 0xff) })
    }

    @Test func writesEverythingToAFileAndMapsItBack() throws {
        var template = Array("/tmp/xenscope-byteview-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        #expect(fd >= 0)
        let path = String(cString: template)
        defer { unlink(path) }
        let data = (0 ..< (3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let n = data.withByteView { $0.write(to: fd) }
        close(fd)
        #expect(n == data.count)
        let m = try MappedFile(path: path)
        m.withView { v in
            #expect(v.count == data.count)
            #expect(v.uint64LE(at: 1 << 20) == data.withByteView { $0.uint64LE(at: 1 << 20) })
            #expect(v.elementsEqual(data))
        }
        // A write that cannot happen stops at once with what was written.
        #expect(data.withByteView { $0.write(to: -1) } == 0)
    }

    @Test func anEmptyViewReadsNothing() {
        let v = ByteView()
        #expect(v.count == 0 && v.isEmpty)
        #expect(!v.matches("x", at: 0))
        #expect(v.isUTF8(of: ""))
        #expect(Array(v) == [])
        #expect(v.write(to: 1) == 0)
    }

    @Test func readsOutsideTheViewStopTheProgram() async {
        await #expect(processExitsWith: .failure) {
            _ = ByteViewTests.bytes.withByteView { $0.uint32LE(at: 8) }
        }
        await #expect(processExitsWith: .failure) {
            _ = ByteViewTests.bytes.withByteView { $0.uint16LE(at: -1) }
        }
        await #expect(processExitsWith: .failure) {
            _ = ByteViewTests.bytes.withByteView { $0.subview(4 ..< 12) }
        }
        await #expect(processExitsWith: .failure) {
            _ = ByteViewTests.bytes.withByteView { $0[11] }
        }
        await #expect(processExitsWith: .failure) {
            _ = ByteViewTests.bytes.withByteView { $0.uint64LE(at: Int.max - 2) }
        }
    }
}

@Suite struct ByteViewScanTests {
    @Test func scansStopAtTheFirstMatchOrTheEnd() {
        Array("  \t\n{\"ab\\\"c\" 123,".utf8).withByteView { v in
            let space: (UInt8) -> Bool = { $0 != 0x20 && $0 != 0x09 && $0 != 0x0a }
            #expect(v.firstOffset(from: 0, where: space) == 4)
            #expect(v.firstOffset(from: 4, where: space) == 4)
            // String body: up to the backslash, then past the escape to the quote.
            let special: (UInt8) -> Bool = { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
            #expect(v.firstOffset(from: 6, where: special) == 8)
            #expect(v.firstOffset(from: 10, where: special) == 11)
            let nonDigit: (UInt8) -> Bool = { $0 < 0x30 || $0 > 0x39 }
            #expect(v.firstOffset(from: 13, where: nonDigit) == 16)
            // No match: the end; past the end: where it started.
            #expect(v.firstOffset(from: 17) { $0 == 0 } == v.count)
            #expect(v.firstOffset(from: v.count + 2) { _ in true } == v.count + 2)
        }
    }

    @Test func findsBytesByMemchr() {
        var bytes = [UInt8](repeating: 0, count: 100_000)
        bytes[7] = 3; bytes[65_537] = 3; bytes[99_999] = 3
        bytes.withByteView { v in
            #expect(v.firstOffset(of: 3, in: 0 ..< v.count) == 7)
            #expect(v.firstOffset(of: 3, in: 7 ..< 8) == 7)
            #expect(v.firstOffset(of: 3, in: 8 ..< v.count) == 65_537)
            #expect(v.firstOffset(of: 3, in: 65_538 ..< 99_999) == nil)
            #expect(v.firstOffset(of: 3, in: 65_538 ..< 100_000) == 99_999)
            #expect(v.firstOffset(of: 3, in: 50 ..< 50) == nil)
            #expect(v.firstOffset(of: 0, in: 7 ..< 9) == 8)
        }
    }

    @Test func asciiAndUTF8() {
        #expect(Array("plain key".utf8).withByteView { $0.isASCII })
        #expect(!Array("clé".utf8).withByteView { $0.isASCII })
        #expect(Array("clé".utf8).withByteView { $0.validatedUTF8() } == "clé")
        #expect([0x63, 0xc3].withByteView { $0.validatedUTF8() } == nil)
        #expect([0x63, 0xc3].withByteView { $0.decodedUTF8() } == "c\u{fffd}")
    }
}

@Suite struct ByteViewNamesTests {
    @Test func cStringsEndAtNulOrAtTheEnd() {
        Array("\0main\0caf\u{e9}\0tail".utf8).withByteView { v in
            #expect(v.cString(at: 0) == "")
            #expect(v.cString(at: 1) == "main")
            #expect(v.cString(at: 3) == "in")
            #expect(v.cString(at: 6) == "café")
            #expect(v.cString(at: 12) == "tail")
            #expect(v.cString(at: v.count) == "")
        }
        // Invalid UTF-8 is repaired, not refused.
        [0x61, 0xff, 0x62, 0x00].withByteView { #expect($0.cString(at: 0) == "a\u{fffd}b") }
    }

    @Test func cursorsOverViews() {
        [0x01, 0x02, 0x03, 0x04, 0x05, 0x06].withByteView { v in
            var c = ByteCursor(v.subview(2 ..< 6), baseOffset: 2)
            #expect(c.readUInt16() == 0x0403)
            #expect(c.offset == 4)
            #expect(c.readUInt32() == nil)
            #expect(c.readUInt16() == 0x0605)
            #expect(c.isAtEnd)
        }
    }
}

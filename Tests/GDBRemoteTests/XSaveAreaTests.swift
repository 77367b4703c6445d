import Foundation
import GDBRemote
import Testing

/// XSAVE images as Xen hands them out (standard format) and as a CPU with
/// XSAVEC/XSAVES writes them (compacted), the AVX component read and
/// written, and the AVX registers served to real gdb.
@Suite struct XSaveAreaTests {
    /// An image with the header set and ymm*h = i * 0x0101…, patterned bytes.
    static func image(size: Int = 832, xstateBV: UInt64, xcompBV: UInt64 = 0) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: size)
        for k in 0..<8 {
            b[512 + k] = UInt8(truncatingIfNeeded: xstateBV >> (8 * UInt64(k)))
            b[520 + k] = UInt8(truncatingIfNeeded: xcompBV >> (8 * UInt64(k)))
        }
        for i in 0..<16 where 576 + 16 * i + 16 <= size {
            for k in 0..<16 { b[576 + 16 * i + k] = UInt8(i << 4 | k) }
        }
        return b
    }

    static func upper(_ i: Int) -> [UInt8] { (0..<16).map { UInt8(i << 4 | $0) } }

    @Test func standardFormatWithAVXInUse() throws {
        let a = try XSaveArea(Self.image(xstateBV: 0x7), source: "t")
        #expect(!a.isCompacted && a.holdsYMM)
        for i in 0..<16 { #expect(Array(a.ymmUpper(i)) == Self.upper(i)) }
        var v = X86RegisterValues()
        v.setYMMUpper(from: a)
        #expect(Array(v.bytes(.ymm3h)!) == Self.upper(3))
        #expect(Array(v.bytes(.ymm15h)!) == Self.upper(15))
    }

    /// XSTATE_BV bit 2 clear: the AVX state is in its initial configuration
    /// (zeros), whatever stale bytes the standard-format area still holds.
    @Test func clearXstateBitReadsAsZero() throws {
        let a = try XSaveArea(Self.image(xstateBV: 0x3), source: "t")
        for i in 0..<16 { #expect(Array(a.ymmUpper(i)) == [UInt8](repeating: 0, count: 16)) }
        // Even an area cut before the component: nothing to read, all zero.
        let short = try XSaveArea(Self.image(size: 576, xstateBV: 0x3), source: "t")
        #expect(Array(short.ymmUpper(7)) == [UInt8](repeating: 0, count: 16))
        #expect(!short.holdsYMM)
    }

    /// Compacted format: the YMM component is the first stored one, at 576.
    @Test func compactedFormat() throws {
        let a = try XSaveArea(Self.image(xstateBV: 0x7, xcompBV: 1 << 63 | 0x207), source: "t")
        #expect(a.isCompacted && a.holdsYMM)
        #expect(Array(a.ymmUpper(9)) == Self.upper(9))
        // Stored but in its initial state: zeros.
        let initial = try XSaveArea(Self.image(xstateBV: 0x3, xcompBV: 1 << 63 | 0x7), source: "t")
        #expect(Array(initial.ymmUpper(9)) == [UInt8](repeating: 0, count: 16))
        // Not stored at all (XCOMP_BV without bit 2): zeros, and no room to write.
        var absent = try XSaveArea(Self.image(size: 576, xstateBV: 0x3, xcompBV: 1 << 63 | 0x3), source: "vCPU 0")
        #expect(Array(absent.ymmUpper(0)) == [UInt8](repeating: 0, count: 16))
        #expect(throws: XSaveError.self) { try absent.setYMMUpper(0, [UInt8](repeating: 1, count: 16)) }
    }

    @Test func damagedImagesNameTheOffset() {
        #expect(throws: XSaveError(source: "rec", offset: 100,
                                   problem: "the XSAVE area ends inside its header (100 bytes, the header ends at 576)")) {
            try XSaveArea([UInt8](repeating: 0, count: 100), source: "rec")
        }
        #expect(throws: XSaveError(source: "rec", offset: 700,
                                   problem: "XSTATE_BV has the AVX bit but the area ends at 700, inside the YMM component (576–831)")) {
            try XSaveArea(Self.image(size: 700, xstateBV: 0x7), source: "rec")
        }
        #expect(throws: XSaveError(source: "rec", offset: 512,
                                   problem: "XSTATE_BV 0x7 names components that the compacted area (XCOMP_BV 0x8000000000000003) does not hold")) {
            try XSaveArea(Self.image(xstateBV: 0x7, xcompBV: 1 << 63 | 0x3), source: "rec")
        }
    }

    /// A write into an initial AVX state zeroes the other halves (their
    /// real value) and sets the AVX bit, so a restore loads exactly that.
    @Test func writeIntoInitialStateSetsTheBit() throws {
        var a = try XSaveArea(Self.image(xstateBV: 0x3), source: "t")
        let value: [UInt8] = (0..<16).map { 0xa0 | UInt8($0) }
        try a.setYMMUpper(5, value)
        #expect(a.xstateBV == 0x7)
        #expect(Array(a.ymmUpper(5)) == value)
        #expect(Array(a.ymmUpper(4)) == [UInt8](repeating: 0, count: 16))
        #expect(Array(a.bytes[0..<512]) == Array(Self.image(xstateBV: 0x3)[0..<512]))
        var b = try XSaveArea(Self.image(xstateBV: 0x7), source: "t")
        try b.setYMMUpper(0, value)
        #expect(Array(b.ymmUpper(0)) == value && Array(b.ymmUpper(1)) == Self.upper(1))
    }

    /// gdb's numbering: the avx feature after the segments, ymm0h–ymm15h
    /// 128-bit uint128 registers.
    @Test func layoutDescribesAVX() {
        let l = X86RegisterLayout(features: [.sse, .avx, .system])
        #expect(l.number(of: .mxcsr) == 56)
        #expect(l.number(of: .fsBase) == 57 && l.number(of: .gsBase) == 58)
        #expect(l.number(of: .ymm0h) == 59 && l.number(of: .ymm15h) == 74)
        #expect(l.number(of: .kernelGSBase) == 75)
        #expect(l.targetXML.contains("<feature name=\"org.gnu.gdb.i386.avx\">\n<reg name=\"ymm0h\" bitsize=\"128\" type=\"uint128\" regnum=\"59\"/>\n"))
        #expect(!X86RegisterLayout(features: [.sse, .system]).targetXML.contains("ymm"))
    }

    /// Real gdb over the stub: the ymm pseudo-registers it builds from
    /// xmm + ymm*h, and a lane write that reaches the backend as ymm*h.
    @Test func gdbReadsAndWritesYMM() throws {
        let b = MemoryBackend(capabilities: readWrite, avx: true)
        for i in 0..<16 {
            b.regs[1]!.setBytes(X86Register(rawValue: X86Register.xmm0.rawValue + i)!, (0..<16).map { UInt8(0x80 | i << 4 | $0) })
            b.regs[1]!.setBytes(.ymmUpper(i), Self.upper(i))
            b.regs[2]!.setBytes(.ymmUpper(i), [UInt8](repeating: 0, count: 16))
        }
        let stub = try RunningStub(backend: b)
        defer { stub.stop() }
        let out = gdbBatch([], commands: [
            "set architecture i386:x86-64", "target remote 127.0.0.1:\(stub.port)",
            "echo @@info\\n", "info registers ymm0",
            "echo @@p3\\n", "p/x $ymm3.v4_int64",
            "echo @@h15\\n", "p/x $ymm15h",
            "set $ymm5.v8_int32[7] = 0x12345678",
            "echo @@p5\\n", "p/x $ymm5.v8_int32",
            "echo @@end\\n"])
        let s = sections(out)
        // ymm0 = xmm0 (0x80..0x8f) low, ymm0h (0x00..0x0f) high; v4_int64 little-endian lanes.
        #expect(s["info"]?.first?.hasPrefix("ymm0") == true, "\(out)")
        #expect(s["info"]?.first?.contains("v4_int64 = {0x8786858483828180, 0x8f8e8d8c8b8a8988, 0x706050403020100, 0xf0e0d0c0b0a0908}") == true, "\(out)")
        #expect(s["p3"] == ["$1 = {0xb7b6b5b4b3b2b1b0, 0xbfbebdbcbbbab9b8, 0x3736353433323130, 0x3f3e3d3c3b3a3938}"], "\(out)")
        #expect(s["h15"] == ["$2 = 0xfffefdfcfbfaf9f8f7f6f5f4f3f2f1f0"], "\(out)")
        #expect(s["p5"] == ["$3 = {0xd3d2d1d0, 0xd7d6d5d4, 0xdbdad9d8, 0xdfdedddc, 0x53525150, 0x57565554, 0x5b5a5958, 0x12345678}"], "\(out)")
        // The backend got the change in ymm5h, the rest of it unchanged, and xmm5 untouched.
        #expect(Array(b.regs[1]!.bytes(.ymm5h)!) == Self.upper(5).prefix(12) + [0x78, 0x56, 0x34, 0x12])
        #expect(Array(b.regs[1]!.bytes(.xmm5)!) == (0..<16).map { UInt8(0xd0 | $0) })
    }
}

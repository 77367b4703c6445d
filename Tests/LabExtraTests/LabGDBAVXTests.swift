import Foundation
import LabTestSupport
import Testing

/// Profile `gdbavx` (make lab only: `lab/run.sh gdbavx`, `make lab-test`):
/// the self-built Xen (CONFIG_GDBSX) on `qemu64,+xsave,+xsaveopt,+avx`; a
/// 1-vCPU PV guest whose only user task, lab/domU/avxcheck.c, holds
/// dword j of ymm i = 0xa0000000 | i << 8 | j and reports on its console
/// any change it sees. The host's gdb reads and writes those registers
/// through `xenscope gdbstub --domain` (lab/gdb_avx.py prints them).
@Suite struct LabGDBAVXTests {
    static func lab() throws -> ExtraResults { try ExtraResults.profile("gdbavx") }
    static func gdb(_ lab: ExtraResults) throws -> GDBTranscript { GDBTranscript(text: try lab.text("gdb/avx.txt")) }

    static func pattern(_ i: Int) -> [UInt32] { (0..<8).map { 0xa000_0000 | UInt32(i) << 8 | UInt32($0) } }

    /// "@@ymm TAG N d0 … d7" lines: register → its eight dwords.
    static func ymm(_ gdb: GDBTranscript, _ tag: String) -> [Int: [UInt32]] {
        var out: [Int: [UInt32]] = [:]
        for m in gdb.text.matches(of: try! Regex("(?m)^@@ymm \(tag) (\\d+) ((?:[0-9a-f]{8} ?){8})$")) {
            let n = Int(m.output[1].substring!)!
            out[n] = m.output[2].substring!.split(separator: " ").map { UInt32($0, radix: 16)! }
        }
        return out
    }

    /// "@@ymmh TAG N hex" lines: $ymmNh as 32 hex digits.
    static func ymmh(_ gdb: GDBTranscript, _ tag: String) -> [Int: String] {
        var out: [Int: String] = [:]
        for m in gdb.text.matches(of: try! Regex("(?m)^@@ymmh \(tag) (\\d+) ([0-9a-f]{32})$")) {
            out[Int(m.output[1].substring!)!] = String(m.output[2].substring!)
        }
        return out
    }

    /// The upper half of a ymm register (dwords 4–7) as gdb prints a uint128.
    static func upperHex(_ d: [UInt32]) -> String { d[4...].reversed().map { String(format: "%08x", $0) }.joined() }

    static func expected(ymm5Lane7 value: UInt32?) -> [Int: [UInt32]] {
        var e: [Int: [UInt32]] = [:]
        for i in 0..<16 { e[i] = pattern(i) }
        if let value { e[5]![7] = value }
        return e
    }

    /// At a stop inside the guest's spin, every ymm register (gdb's
    /// pseudo-register: xmm from the context, ymm*h from the XSAVE state)
    /// is exactly the pattern, and `info registers ymm3` prints it.
    @Test func ymmRegistersHoldThePattern() throws {
        let lab = try Self.lab(), gdb = try Self.gdb(lab)
        #expect(gdb.text.contains("@@avx settled"), "\(gdb.step("settle"))")
        #expect(Self.ymm(gdb, "attach") == Self.expected(ymm5Lane7: nil))
        #expect(gdb.step("info ymm3").contains("v8_int32 = {0xa0000300, 0xa0000301, 0xa0000302, 0xa0000303, 0xa0000304, 0xa0000305, 0xa0000306, 0xa0000307}"),
                "\(gdb.step("info ymm3"))")
        let h = Self.ymmh(gdb, "attach")
        for i in 0..<16 { #expect(h[i] == Self.upperHex(Self.pattern(i)), "ymm\(i)h") }
    }

    /// A PV general-register write goes through xc_vcpu_setcontext, which
    /// resets the XSAVE header; the stub loads the XSAVE state back, so the
    /// upper halves read back unchanged (gdb's cache flushed). gdb skips a
    /// write of an unchanged value: r11 is flipped and flipped back.
    @Test func generalRegisterWriteKeepsTheUpperHalves() throws {
        let gdb = try Self.gdb(try Self.lab())
        // r11 read, flipped (read back from the target), flipped back.
        let r11 = gdb.step("r11 write").matches(of: #/\$\d+ = 0x([0-9a-f]+)/#).map { UInt64($0.1, radix: 16)! }
        #expect(r11.count == 2 && r11[0] ^ 1 == r11[1], "\(gdb.step("r11 write"))")
        #expect(Self.ymm(gdb, "after-gpr-write") == Self.expected(ymm5Lane7: nil))
    }

    /// `set $ymm5.v8_int32[7] = 0x12345678` reads back, and the guest sees
    /// exactly that change and no other, and goes on checking.
    @Test func ymmWriteReachesTheGuest() throws {
        let lab = try Self.lab(), gdb = try Self.gdb(lab)
        #expect(Self.ymm(gdb, "after-ymm-write") == Self.expected(ymm5Lane7: 0x1234_5678))
        let console = try lab.text("results/gdb-avx/guest-avx.log")
        let changed = console.split(whereSeparator: \.isNewline).filter { $0.contains("XENSCOPE-AVX: changed") }
        #expect(changed == ["XENSCOPE-AVX: changed ymm5 v8_int32 = {0xa0000500, 0xa0000501, 0xa0000502, 0xa0000503, 0xa0000504, 0xa0000505, 0xa0000506, 0x12345678}"],
                "\(changed)")
        let after = console.components(separatedBy: "XENSCOPE-AVX: changed").last ?? ""
        #expect(after.contains("XENSCOPE-AVX: intact rounds="), "the guest stopped reporting after the change")
        #expect(console.contains("XENSCOPE-AVX: loaded loop=0x"))
    }

    /// PV single-step sets and clears TF through xc_vcpu_setcontext: after
    /// three `stepi` from a kernel breakpoint the upper halves are intact
    /// (the guest's own view: no change but the ymm5 write, above).
    @Test func stepiKeepsTheUpperHalves() throws {
        let lab = try Self.lab(), gdb = try Self.gdb(lab)
        let planted = try #require(try lab.text("gdb/avx.cmd").firstMatch(of: #/break \*0x([0-9a-f]+)/#))
        let bp = try #require(UInt64(planted.1, radix: 16))
        #expect(gdb.printed("pc at breakpoint") == bp, "\(gdb.step("pc at breakpoint"))")
        let after = try #require(gdb.printed("stepi"), "\(gdb.step("stepi"))")
        #expect(after != bp, "three stepi did not move")
        let h = Self.ymmh(gdb, "after-stepi")
        let e = Self.expected(ymm5Lane7: 0x1234_5678)
        for i in 0..<16 { #expect(h[i] == Self.upperHex(e[i]!), "ymm\(i)h after stepi") }
    }
}

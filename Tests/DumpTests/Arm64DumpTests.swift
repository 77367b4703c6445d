import BinaryIO
import CrashTestSupport
import Dump
import Foundation
import Testing

/// The aarch64 page walker on the arm64 panicker's dump. boot.S builds the
/// tables: TTBR1 L0[0] → L1[1] → L2 2 MiB blocks over RAM, L1[0] → L2[0] →
/// L3[0] = the PL011 page; TTBR0 identity with 1 GiB L1 blocks. The roots'
/// physical addresses come from the image (symbols swapper_pg_dir,
/// idmap_pg_dir; the link puts the guest at 0xffff000000000000 + physical).
@Suite struct Arm64DumpTests {
    func walker() throws -> (any Dump, PageWalker, ttbr1: UInt64) {
        let g = try Arm64PanickerGuest.shared()
        let d = try openDump(path: g.elfDump)
        // The guest prints its TTBR1 on the UART: "ttbr1 40083000".
        let serial = try String(contentsOfFile: g.serialLog, encoding: .utf8)
        let word = try #require(serial.split(separator: " ").drop { $0 != "ttbr1" }.dropFirst().first)
        let ttbr1 = try #require(UInt64(word.trimmingCharacters(in: .punctuationCharacters), radix: 16))
        let ttbr0 = ttbr1 - 2 * 4096   // idmap_pg_dir, pt_l1_lo, swapper_pg_dir in that order
        return (d, PageWalker(dump: d, aarch64: AArch64PageWalker(ttbr0: ttbr0, ttbr1: ttbr1)), ttbr1)
    }

    @Test func readsAArch64Notes() throws {
        let g = try Arm64PanickerGuest.shared()
        for path in [g.elfDump, g.kdumpDump] {
            let d = try openDump(path: path)
            #expect(d.architecture == .aarch64, "\(path)")
            #expect(d.cpus.count == 2)   // CPU 1 idles (started through PSCI)
            #expect(d.cpus[0].source == "NT_PRSTATUS aarch64 (pr_pid 1) + NT_PRFPREG")
            #expect(d.cpus[1].source == "NT_PRSTATUS aarch64 (pr_pid 2) + NT_PRFPREG")
            #expect(d.cpus[0].aarch64?.ttbr1 == nil)   // QEMU saves no system registers
            #expect(d.diagnostics.isEmpty)
        }
    }

    @Test func translatesBlocksAndPages() throws {
        let (_, w, _) = try walker()
        #expect(try w.translate(0xffff_0000_4008_0123) == 0x4008_0123)          // L2 2 MiB block
        #expect(try w.translate(0xffff_0000_47ff_fff8) == 0x47ff_fff8)          // last L2 block
        #expect(try w.translate(0xffff_0000_0000_0018) == 0x0900_0018)          // L3 4 KiB page (UART)
        #expect(try w.translate(0x0000_0000_4123_4567) == 0x4123_4567)          // TTBR0: L1 1 GiB block
        #expect(try w.translate(0x0000_0000_0900_0000) == 0x0900_0000)          // TTBR0: device block
    }

    @Test func invalidDescriptorsAndHolesAreNamed() throws {
        let (_, w, ttbr1) = try walker()
        // L2[64] of the RAM table is empty: 0xffff000048000000 is unmapped.
        // pt_l2_hi follows pt_l1_hi, which follows swapper_pg_dir.
        let l2 = TranslationError.aarch64(.invalidDescriptor(virtual: 0xffff_0000_4800_0000, level: 2,
                                                             descriptorAddress: ttbr1 + 2 * 4096 + 64 * 8, descriptor: 0))
        #expect(throws: l2) { try w.translate(0xffff_0000_4800_0000) }
        #expect(l2.description == "0xffff000048000000: not mapped (level 2 descriptor at physical 0x\(String(ttbr1 + 2 * 4096 + 64 * 8, radix: 16)) is 0x0, invalid)")
        // L0[1] of TTBR1 is empty.
        #expect(throws: TranslationError.aarch64(.invalidDescriptor(virtual: 0xffff_0080_0000_0000, level: 0,
                                                                      descriptorAddress: ttbr1 + 8, descriptor: 0))) {
            try w.translate(0xffff_0080_0000_0000)
        }
        #expect(throws: TranslationError.aarch64(.outsideRanges(virtual: 0x0001_0000_0000_0000))) {
            try w.translate(0x0001_0000_0000_0000)
        }
        let noRoot = PageWalker(dump: w.dump, aarch64: AArch64PageWalker(ttbr0: nil, ttbr1: ttbr1))
        #expect(throws: TranslationError.aarch64(.noRoot(virtual: 0x1000, register: "TTBR0_EL1"))) { try noRoot.translate(0x1000) }
    }
}

/// Damaged aarch64 register notes: each problem is named, the rest is used.
@Suite struct Arm64BadNoteTests {
    func prstatus(pc: UInt64, size: Int = 392) -> [UInt8] {
        var d = [UInt8](repeating: 0, count: size)
        d[32] = 1   // pr_pid
        if size >= 112 + 33 * 8 { for i in 0..<8 { d[112 + 32 * 8 + i] = UInt8(truncatingIfNeeded: pc >> (8 * UInt64(i))) } }
        return d
    }

    @Test func shortAndStrayNotesAreReported() {
        var problems = [InputError]()
        let notes = [
            DumpNote(name: "CORE", type: 2, descriptor: [UInt8](repeating: 0, count: 528), fileOffset: 0x100),   // FP before any CPU
            DumpNote(name: "CORE", type: 1, descriptor: prstatus(pc: 0, size: 200), fileOffset: 0x200),          // too short
            DumpNote(name: "CORE", type: 1, descriptor: prstatus(pc: 0xffff_0000_4008_0000), fileOffset: 0x300),
            DumpNote(name: "CORE", type: 2, descriptor: [UInt8](repeating: 0, count: 100), fileOffset: 0x400),   // FP too short
        ]
        let cpus = CPUNotes.cpus(from: notes, file: "d", architecture: .aarch64, diagnostics: &problems)
        #expect(cpus.count == 1)
        #expect(cpus.first?.aarch64?.pc == 0xffff_0000_4008_0000)
        #expect(cpus.first?.aarch64?.fpsr == nil)
        #expect(problems.map(\.offset) == [0x100, 0x200, 0x400])
        #expect(problems[1].description.contains("NT_PRSTATUS note has 200 bytes, aarch64 needs 384"))
    }
}

import BinaryIO
import CrashTestSupport
import Dump
import Foundation
import Testing

/// Dumps QEMU made of the panicker guest in this test run, read three ways
/// (ELF, ELF with paging, kdump-zlib flattened) and checked against gdb and
/// against the guest's own image.
@Suite struct PanickerDumpTests {
    let guest: PanickerGuest
    init() throws { guest = try PanickerGuest.shared() }

    @Test func formatsAreRecognised() throws {
        #expect(try openDump(path: guest.elfDump).format == .elfCore)
        #expect(try openDump(path: guest.pagingDump).format == .elfCore)
        #expect(try openDump(path: guest.kdumpDump).format == .kdumpFlattened)
    }

    @Test func elfDumpHasBothCPUsWithQEMUIndices() throws {
        let d = try ElfCoreDump(path: guest.elfDump)
        #expect(d.prstatusPids == [1, 2])
        #expect(d.cpus.count == 2)
        #expect(d.diagnostics.isEmpty)
        // Both CPUs run the guest's page tables (boot_pml4 at 0x101000), long mode.
        for c in d.cpus {
            #expect(c.cr3 == 0x101000)
            #expect(c.pagingLevels == 4)
            #expect(c.cs == 0x08)
        }
        // 64 MiB of RAM at 0, and the BIOS ROM QEMU maps below 4 GiB.
        #expect(d.physicalRanges == [0..<(64 << 20), 0xfffc_0000..<0x1_0000_0000])
    }

    /// Registers equal what gdb prints for the same vCPUs (gdb reads the
    /// paging dump; we read all three dumps).
    @Test func registersMatchGDB() throws {
        let text = try guest.gdb(guest.pagingDump, ["thread 1", "info registers", "thread 2", "info registers"])
        let gdb = parseGDBRegisters(text)
        try #require(gdb.count == 2, "gdb output:\n\(text)")
        for path in [guest.elfDump, guest.pagingDump, guest.kdumpDump] {
            let d = try openDump(path: path)
            try #require(d.cpus.count == 2)
            for (cpu, g) in zip(d.cpus, gdb) {
                var compared = 0
                for (name, value) in cpu.named {
                    guard let expected = g[name], let value else { continue }
                    #expect(value == expected, "\(path) CPU \(cpu.index) \(name): 0x\(String(value, radix: 16)) vs gdb 0x\(String(expected, radix: 16))")
                    compared += 1
                }
                #expect(compared >= 24, "compared only \(compared) registers with gdb:\n\(text)")
            }
        }
    }

    /// Every page of the ELF dump reads the same from the kdump-zlib dump.
    @Test func kdumpPagesEqualELFPages() throws {
        let elf = try ElfCoreDump(path: guest.elfDump)
        let kd = try KdumpCompressedDump(path: guest.kdumpDump)
        #expect(kd.pageSize == 4096)
        #expect(kd.diagnostics.isEmpty, "\(kd.diagnostics)")
        var pages = 0
        for r in elf.physicalRanges {
            for pfn in (r.lowerBound / 4096)..<(r.upperBound / 4096) {
                let a = try elf.withPage(pfn) { Array($0) }
                let b = try kd.withPage(pfn) { Array($0) }
                if a != b { Issue.record("page \(pfn) differs"); return }
                pages += 1
            }
        }
        // 64 MiB of RAM plus the 256 KiB BIOS ROM below 4 GiB.
        #expect(pages == 16384 + 64)
        // Past RAM: not in the dump, said as such.
        #expect(throws: DumpReadError.notInDump(address: 64 << 20)) { try kd.withPage(16384) { _ in () } }
        #expect(throws: DumpReadError.notInDump(address: 64 << 20)) { try elf.withPage(16384) { _ in () } }
    }

    /// The page walker follows the guest's tables: 4 KiB kernel pages, a
    /// 2 MiB identity page, the 1 GiB direct-map page, and the unmapped page.
    @Test func pageWalkerTranslatesTheGuestsMappings() throws {
        let d = try ElfCoreDump(path: guest.elfDump)
        let w = try #require(PageWalker(dump: d, cpu: d.cpus[0]))
        #expect(try w.translate(0xffff_ffff_8010_a123) == 0x10a123)      // 4 KiB page
        #expect(try w.translate(0xffff_ffff_8060_0010) == 0x600010)      // 2 MiB page (kernel window)
        #expect(try w.translate(0x0000_0000_0030_0000) == 0x300000)      // 2 MiB identity page
        #expect(try w.translate(0xffff_8880_0123_4567) == 0x1234567)     // 1 GiB direct map
        #expect(throws: TranslationError.notPresent(virtual: 0xffff_ffff_8000_0000, level: 1,
                                                    entryAddress: 0x108000, entry: 0)) {
            try w.translate(0xffff_ffff_8000_0000)
        }
        #expect(throws: TranslationError.nonCanonical(virtual: 0x0000_8000_0000_0000)) { try w.translate(0x0000_8000_0000_0000) }
        // Reading the kernel's text through the page tables gives the image's bytes.
        let image = try [UInt8](Data(contentsOf: URL(fileURLWithPath: guest.kernelBin)))
        let vm = VirtualMemory(walker: w)
        let text = try vm.read(0xffff_ffff_8010_a000, count: 8192)
        #expect(text == Array(image[0xa000..<0xc000]))
        // The same bytes through the direct map.
        #expect(try vm.read(0xffff_8880_0010_a000, count: 8192) == text)
    }

    @Test func fullPageTableWalkCountsEveryMapping() throws {
        let d = try KdumpCompressedDump(path: guest.kdumpDump)
        let w = try #require(PageWalker(dump: d, cpu: d.cpus[1]))
        var bySize = [UInt64: Int]()
        let skipped = w.forEachMapping { bySize[$0.size, default: 0] += 1 }
        #expect(skipped == 0)
        // Identity: 512 × 2 MiB + the APIC page; kernel: 511 × 4 KiB + 31 × 2 MiB; direct map: one 1 GiB page.
        #expect(bySize == [0x1000: 511, 0x20_0000: 512 + 1 + 31, 0x4000_0000: 1])
    }
}

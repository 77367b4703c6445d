import BinaryIO
import CrashTestSupport
import Dump
import Foundation
import Testing

/// Truncated and damaged copies of the real dumps: clear messages naming the
/// file and offset, and what is still there keeps working.
@Suite struct BadDumpTests {
    let guest: PanickerGuest
    init() throws { guest = try PanickerGuest.shared() }

    func copy(_ path: String, keeping bytes: Int? = nil, name: String, edit: ((inout [UInt8]) -> Void)? = nil) throws -> String {
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        if let bytes { data = Array(data.prefix(bytes)) }
        edit?(&data)
        let out = guest.directory + "/" + name
        try Data(data).write(to: URL(fileURLWithPath: out))
        return out
    }

    @Test func elfCutInHalfKeepsTheFirstHalf() throws {
        let size = try FileManager.default.attributesOfItem(atPath: guest.elfDump)[.size] as! Int
        let path = try copy(guest.elfDump, keeping: size / 2, name: "half.elf")
        let d = try ElfCoreDump(path: path)
        #expect(d.cpus.count == 2)
        let msg = d.diagnostics.map(\.description).joined(separator: "\n")
        #expect(msg.contains("truncated dump"), "\(msg)")
        #expect(msg.contains(path))
        // Low memory (the kernel) is still there; high memory says where it is cut.
        #expect(try d.withPage(0x10a) { $0.count } == 4096)
        do {
            _ = try d.withPage(0x3000) { $0.count }
            Issue.record("page beyond the cut was read")
        } catch DumpReadError.corrupt(let e) {
            #expect(e.file == path)
            #expect(e.message.contains("beyond the end of the truncated file"))
        }
    }

    @Test func flattenedKdumpCutShortNamesTheOffset() throws {
        let size = try FileManager.default.attributesOfItem(atPath: guest.kdumpDump)[.size] as! Int
        let path = try copy(guest.kdumpDump, keeping: size * 3 / 4, name: "cut.kdump")
        let d = try KdumpCompressedDump(path: path)
        let msg = d.diagnostics.map(\.description).joined(separator: "\n")
        #expect(msg.contains("truncated"), "\(msg)")
        #expect(d.cpus.count == 2)
        // Some pages are readable, the rest fail with a corrupt (not "not in dump") error.
        var ok = 0, corrupt = 0
        for pfn in UInt64(0)..<16384 {
            do { try d.withPage(pfn) { _ in () }; ok += 1 } catch DumpReadError.corrupt { corrupt += 1 }
        }
        #expect(ok > 1000 && corrupt > 0 && ok + corrupt == 16384, "ok \(ok), corrupt \(corrupt)")
    }

    @Test func zeroedPageTablesGiveANotPresentError() throws {
        // boot_pml4 is at physical 0x101000; the ELF dump's single PT_LOAD starts at file offset p_offset.
        let original = try ElfCoreDump(path: guest.elfDump)
        let ph = try #require(original.elf.programHeaders.first { $0.type == 1 })
        let path = try copy(guest.elfDump, name: "zeroed-pml4.elf") { d in
            let at = Int(ph.offset) + 0x101000
            for i in at..<(at + 4096) { d[i] = 0 }
        }
        let d = try ElfCoreDump(path: path)
        let w = try #require(PageWalker(dump: d, cpu: d.cpus[0]))
        #expect(throws: TranslationError.notPresent(virtual: 0xffff_ffff_8010_a000, level: 4, entryAddress: 0x101ff8, entry: 0)) {
            try w.translate(0xffff_ffff_8010_a000)
        }
        let text = "\(TranslationError.notPresent(virtual: 0xffff_ffff_8010_a000, level: 4, entryAddress: 0x101ff8, entry: 0))"
        #expect(text == "0xffffffff8010a000: not mapped (PML4 entry at physical 0x101ff8 is 0x0, not present)")
    }

    @Test func loopingPageTablesEndTheWalk() throws {
        // Point every PML4 entry back at the PML4 itself.
        let original = try ElfCoreDump(path: guest.elfDump)
        let ph = try #require(original.elf.programHeaders.first { $0.type == 1 })
        let path = try copy(guest.elfDump, name: "loop-pml4.elf") { d in
            let at = Int(ph.offset) + 0x101000
            for i in 0..<512 {
                let e: UInt64 = 0x101000 | 3
                for b in 0..<8 { d[at + i * 8 + b] = UInt8((e >> (8 * UInt64(b))) & 0xff) }
            }
        }
        let d = try ElfCoreDump(path: path)
        let w = try #require(PageWalker(dump: d, cpu: d.cpus[0]))
        var n = 0
        let skipped = w.forEachMapping(tableLimit: 5000) { _ in n += 1 }
        #expect(skipped > 0)
        // A single translation still ends after four levels (in the PML4 page
        // itself, as a recursive mapping would).
        #expect(try w.translate(0xffff_ffff_8010_a123) == 0x101123)
    }

    @Test func notADumpIsSaidPlainly() throws {
        do {
            _ = try openDump(path: guest.serialLog)
            Issue.record("serial log opened as a dump")
        } catch let e as InputError {
            #expect(e.file == guest.serialLog)
            #expect(e.message.contains("not a dump"))
        }
        do {
            _ = try openDump(path: guest.kernelELF)
            Issue.record("kernel opened as a dump")
        } catch let e as InputError {
            #expect(e.message.contains("not a core dump"))
        }
    }
}

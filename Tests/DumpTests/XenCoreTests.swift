import BinaryIO
import CrashTestSupport
import Dump
import Foundation
import Testing

/// The xc_core reader on the panicker dump rewritten in `xl dump-core`
/// layout, as an HVM guest (.xen_pfn) and as a PV guest whose page tables
/// hold machine frames (.xen_p2m).
@Suite(.serialized) struct XenCoreTests {
    let guest: PanickerGuest
    init() throws { guest = try PanickerGuest.shared() }

    @Test(arguments: ["hvm", "pv"])
    func readsHeaderContextsAndPages(_ kind: String) throws {
        let path = try guest.xenCore(kind)
        let d = try #require(try openDump(path: path) as? XenCoreDump)
        let elf = try ElfCoreDump(path: guest.elfDump)
        #expect(d.format == .xenCore)
        #expect(d.isPV == (kind == "pv"))
        #expect(d.headerVCPUs == 2 && d.headerPages == 16384)
        #expect(d.xenVersion == "4.17.3-pc")
        #expect(d.vcpuOnline == [true, true])
        #expect(d.diagnostics.isEmpty, "\(d.diagnostics)")
        #expect(d.physicalRanges == [0..<(64 << 20)])
        for (x, e) in zip(d.cpus, elf.cpus) {
            for ((name, a), (_, b)) in zip(x.named, e.named) where name != "cr3" && name != "k_gs_base" && name != "efer" {
                #expect(a == b, "CPU \(x.index) \(name)")
            }
        }
        // Kernel text through each guest's own page tables equals the ELF dump's.
        let we = try #require(PageWalker(dump: elf, cpu: elf.cpus[1]))
        let wx = try #require(PageWalker(dump: d, cpu: d.cpus[1], machineFrames: d.isPV))
        for va: UInt64 in [0xffff_ffff_8010_a000, 0xffff_ffff_8011_d0c0, 0xffff_ffff_8060_0000, 0x30_0000] {
            #expect(try wx.translate(va) == we.translate(va), "0x\(String(va, radix: 16))")
            #expect(try VirtualMemory(walker: wx).read(va, count: 256) == VirtualMemory(walker: we).read(va, count: 256))
        }
    }

    @Test func pvTablesNeedTheP2M() throws {
        let d = try #require(try openDump(path: try guest.xenCore("pv")) as? XenCoreDump)
        let cr3 = try #require(d.cpus[0].cr3)
        #expect(cr3 == UInt64(0x101 ^ 0x1200) << 12)           // a machine address
        #expect(d.machineToPhysical(0x101 ^ 0x1200) == 0x101)
        #expect(d.machineToPhysical(0x4_0000) == nil)
        // Without the p2m the walk reads the wrong page and fails.
        let raw = PageWalker(dump: d, cpu: d.cpus[0], machineFrames: false)!
        #expect(throws: TranslationError.self) { try raw.translate(0xffff_ffff_8010_a000) }
        let pv = PageWalker(dump: d, cpu: d.cpus[0], machineFrames: true)!
        #expect(try pv.translate(0xffff_ffff_8010_a000) == 0x10a000)
    }

    @Test func truncatedXenCoreKeepsItsRegisters() throws {
        let src = try guest.xenCore("hvm")
        let data = try Data(contentsOf: URL(fileURLWithPath: src))
        // Keep the headers and the first 1000 pages: section headers sit at
        // the end, so re-append them from the original.
        let shoff = Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 40, as: UInt64.self) })
        var cut = Data(data.prefix(0x3000 + 1000 * 4096))
        cut.append(Data(count: shoff - cut.count).prefix(0))   // nothing: the file simply ends early
        var bytes = [UInt8](cut)
        // Point e_shoff at a copy of the section table placed right after the cut.
        let table = [UInt8](data[shoff...])
        let newOff = UInt64(bytes.count)
        bytes += table
        withUnsafeBytes(of: newOff.littleEndian) { for i in 0..<8 { bytes[40 + i] = $0[i] } }
        // .shstrtab moved too: its offset must point into the copy. Simplest: keep the original
        // .shstrtab bytes at the end as well and fix its sh_offset.
        let strOff = Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: shoff + 64 + 24, as: UInt64.self) })
        let strSize = Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: shoff + 64 + 32, as: UInt64.self) })
        let newStr = UInt64(bytes.count)
        bytes += [UInt8](data[strOff..<(strOff + strSize)])
        withUnsafeBytes(of: newStr.littleEndian) { for i in 0..<8 { bytes[Int(newOff) + 64 + 24 + i] = $0[i] } }
        let path = guest.directory + "/xc-truncated.core"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let d = try XenCoreDump(path: path)
        let msg = d.diagnostics.map(\.description).joined(separator: "\n")
        // The index follows the pages, so a cut inside the pages loses it:
        // registers survive, pages cannot be placed, and both are said.
        #expect(msg.contains("truncated"), "\(msg)")
        #expect(msg.contains(".xen_pfn is cut off after 0 of 16384 entries"), "\(msg)")
        #expect(d.cpus.count == 2)
        #expect(d.cpus[1].rip == (try ElfCoreDump(path: guest.elfDump)).cpus[1].rip)
        #expect(throws: DumpReadError.notInDump(address: 0x10a000)) { try d.withPage(0x10a) { _ in () } }
    }

    @Test func xenCoreCutBeforeItsSectionTableIsExplained() throws {
        let src = try guest.xenCore("hvm")
        let data = try Data(contentsOf: URL(fileURLWithPath: src))
        let path = guest.directory + "/xc-cut.core"
        try Data(data.prefix(0x3000 + 1000 * 4096)).write(to: URL(fileURLWithPath: path))
        do {
            _ = try openDump(path: path)
            Issue.record("opened a dump with nothing locatable")
        } catch let e as InputError {
            #expect(e.file == path)
            #expect(e.message.contains("truncated `xl dump-core` file"), "\(e)")
        }
    }
}

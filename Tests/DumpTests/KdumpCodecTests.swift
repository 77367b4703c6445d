import BinaryIO
import CrashTestSupport
import Dump
import Foundation
import Testing

/// kdump-compressed dumps whose pages are lzo, snappy or zstd: the panicker's
/// QEMU kdump-zlib dump, rearranged by makedumpfile -R and recompressed page by
/// page with the libraries makedumpfile links (samples/guests/panicker/kdump_recode.py).
@Suite struct KdumpCodecTests {
    let guest: PanickerGuest
    init() throws { guest = try PanickerGuest.shared() }

    /// Pages of the ELF dump, compared with every page of a kdump file.
    func expectEveryPageEqualsELF(_ path: String, codec: PageCodec) throws {
        let elf = try ElfCoreDump(path: guest.elfDump)
        let kd = try KdumpCompressedDump(path: path)
        #expect(kd.format == .kdumpCompressed)
        #expect(kd.diagnostics.isEmpty, "\(kd.diagnostics)")
        #expect(kd.cpus.count == 2)
        var pages = 0, withCodec = 0
        for r in elf.physicalRanges {
            for pfn in (r.lowerBound / 4096)..<(r.upperBound / 4096) {
                let a = try elf.withPage(pfn) { Array($0) }
                let b = try kd.withPage(pfn) { Array($0) }
                if a != b { Issue.record("\(codec.name): page \(pfn) differs"); return }
                if try kd.storage(ofPage: pfn).codec == codec { withCodec += 1 }
                pages += 1
            }
        }
        #expect(pages == 16384 + 64)
        // All but the few pages that do not shrink (kept raw, as makedumpfile does).
        #expect(withCodec > 16384 - 16, "\(withCodec) \(codec.name) pages")
    }

    @Test(arguments: [PageCodec.lzo, .snappy, .zstd])
    func everyPageDecompressesToTheELFPage(_ codec: PageCodec) throws {
        try expectEveryPageEqualsELF(try guest.kdump(codec.name), codec: codec)
    }

    /// A damaged compressed page says which page and where; its neighbours read.
    @Test(arguments: [PageCodec.lzo, .snappy, .zstd])
    func corruptPageNamesPageAndOffset(_ codec: PageCodec) throws {
        let src = try guest.kdump(codec.name)
        let original = try KdumpCompressedDump(path: src)
        let pfn: UInt64 = 0x10a   // kernel text
        let where_ = try original.storage(ofPage: pfn)
        #expect(where_.codec == codec)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: src)))
        // Garbage over the whole page, so no decoder can take it for a valid stream.
        for i in 0..<where_.size { bytes[Int(where_.offset) + i] = UInt8(truncatingIfNeeded: 0xff &- i &* 7) }
        let out = guest.directory + "/corrupt-\(codec.name).kdump"
        try Data(bytes).write(to: URL(fileURLWithPath: out))
        let d = try KdumpCompressedDump(path: out)
        do {
            _ = try d.withPage(pfn) { $0.count }
            Issue.record("\(codec.name): the damaged page was read")
        } catch DumpReadError.corrupt(let e) {
            #expect(e.file == out)
            #expect(e.offset == Int(where_.offset))
            #expect(e.message.contains("\(codec.name) page of pfn 266 (\(where_.size) bytes at offset \(where_.offset))"), "\(e)")
        }
        let elf = try ElfCoreDump(path: guest.elfDump)
        for p in [pfn - 1, pfn + 1, 0x3000] {
            #expect(try d.withPage(p) { Array($0) } == elf.withPage(p) { Array($0) })
        }
    }

    /// A file cut inside the page data: pages before the cut read, the cut
    /// page and those after name their pfn, size and offset.
    @Test(arguments: [PageCodec.lzo, .snappy, .zstd])
    func truncatedFileNamesTheMissingPage(_ codec: PageCodec) throws {
        let src = try guest.kdump(codec.name)
        let full = try KdumpCompressedDump(path: src)
        let cutPFN: UInt64 = 0x2000
        let cut = try full.storage(ofPage: cutPFN)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: src)))
        let out = guest.directory + "/cut-\(codec.name).kdump"
        try Data(bytes.prefix(Int(cut.offset) + cut.size / 2)).write(to: URL(fileURLWithPath: out))
        let d = try KdumpCompressedDump(path: out)
        let elf = try ElfCoreDump(path: guest.elfDump)
        #expect(try d.withPage(cutPFN - 1) { Array($0) } == elf.withPage(cutPFN - 1) { Array($0) })
        #expect(try d.withPage(0x10a) { Array($0) } == elf.withPage(0x10a) { Array($0) })
        for p in [cutPFN, cutPFN + 100] {
            do {
                _ = try d.withPage(p) { $0.count }
                Issue.record("\(codec.name): page \(p) past the cut was read")
            } catch DumpReadError.corrupt(let e) {
                let s = try full.storage(ofPage: p)
                #expect(e.message.contains("page of pfn \(p) (\(s.size) bytes at offset \(s.offset))"), "\(e)")
                #expect(e.message.contains("truncated"), "\(e)")
            }
        }
    }
}

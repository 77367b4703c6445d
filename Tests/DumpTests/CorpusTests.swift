import BinaryIO
import Dump
import ELF
import Foundation
import Testing

/// Inputs that once crashed a dump reader under the fuzzer (scripts/fuzz-dump.sh;
/// ELF cores, xc_core and kdump-compressed files alike):
/// each must now open or fail with an error, and its pages read or fail cleanly.
@Suite struct DumpCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path

    @Test(arguments: try! FileManager.default.contentsOfDirectory(atPath: corpus).sorted())
    func replay(_ name: String) throws {
        let path = Self.corpus + "/" + name
        // kdump-compressed findings (header, bitmaps, descriptors, zlib/lzo/snappy/zstd pages).
        if let d = try? KdumpCompressedDump(path: path) {
            for r in d.physicalRanges.prefix(4) { _ = try? d.withPage(r.lowerBound >> 12) { $0.count } }
            for c in d.cpus.prefix(2) { if let w = PageWalker(dump: d, cpu: c) { _ = try? w.translate(c.rip) } }
        }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        guard let elf = try? ELFFile(bytes: bytes, name: name) else { return }
        if let d = try? ElfCoreDump(elf: elf) {
            for r in d.physicalRanges.prefix(4) { _ = try? d.withPage(r.lowerBound >> 12) { $0.count } }
        }
        if XenCoreDump.recognises(elf), let d = try? XenCoreDump(elf: elf) {
            for r in d.physicalRanges.prefix(4) { _ = try? d.withPage(r.lowerBound >> 12) { $0.count } }
        }
    }
}

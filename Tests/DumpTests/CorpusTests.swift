import BinaryIO
import Dump
import ELF
import Foundation
import Testing

/// Inputs that once crashed a dump reader under the fuzzer (scripts/fuzz-dump.sh;
/// ELF cores, xc_core and kdump-compressed files alike), or made it allocate
/// what a header field said: each must now open or fail with an error naming
/// the file and byte offset, and its pages read or fail cleanly. The outcome
/// of each (the open error, or every diagnostic and the first page reads) is
/// pinned exactly in ``expected``.
@Suite struct DumpCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path

    /// What opening `path` with ``openDump(path:)`` gives: the error, or the
    /// format, counts, every diagnostic and the first reads of up to four ranges.
    static func outcome(_ path: String) -> [String] {
        let d: any Dump
        do { d = try openDump(path: path) } catch { return ["error: \(error)"] }
        var lines = ["\(d.format.rawValue): \(d.cpus.count) cpus, \(d.physicalRanges.count) ranges"]
        lines += d.diagnostics.map { "problem: \($0)" }
        for r in d.physicalRanges.prefix(4) {
            do { lines.append("page \(r.lowerBound >> 12): \(try d.withPage(r.lowerBound >> 12) { $0.count }) bytes") }
            catch { lines.append("page \(r.lowerBound >> 12): \(error)") }
        }
        for c in d.cpus.prefix(2) {
            if let w = PageWalker(dump: d, cpu: c) { _ = try? w.translate(c.rip) }
        }
        return lines
    }

    @Test(arguments: try! FileManager.default.contentsOfDirectory(atPath: corpus).sorted())
    func replay(_ name: String) throws {
        let path = Self.corpus + "/" + name
        // Every reader directly too, as the fuzz targets drive them.
        if let d = try? KdumpCompressedDump(path: path) {
            for r in d.physicalRanges.prefix(4) { _ = try? d.withPage(r.lowerBound >> 12) { $0.count } }
            for c in d.cpus.prefix(2) { if let w = PageWalker(dump: d, cpu: c) { _ = try? w.translate(c.rip) } }
        }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        if let elf = try? ELFFile(bytes: bytes, name: name) {
            if let d = try? ElfCoreDump(elf: elf) {
                for r in d.physicalRanges.prefix(4) { _ = try? d.withPage(r.lowerBound >> 12) { $0.count } }
            }
            if XenCoreDump.recognises(elf), let d = try? XenCoreDump(elf: elf) {
                for r in d.physicalRanges.prefix(4) { _ = try? d.withPage(r.lowerBound >> 12) { $0.count } }
            }
        }
        let got = Self.outcome(path).map { $0.replacingOccurrences(of: Self.corpus + "/", with: "") }
        let want = try #require(Self.expected[name], "no expected outcome for Corpus/\(name): add one")
        #expect(got == want)
    }

    static let expected: [String: [String]] = [
        // A flattened stream with a record overlapping the next one's bytes
        // and 2,000 empty records: the lookup once missed the covering record
        // (0 CPUs, "no record for logical offset 4396").
        "kdump-flattened-overlap-and-empty-records": [
            "kdump-flattened: 2 cpus, 1 ranges",
            "problem: kdump-flattened-overlap-and-empty-records: at byte 8208 (0x2010): flattened records overlap (first here); bytes claimed twice are read from the record at the lower logical offset",
            "page 0: 4096 bytes",
        ],
        "elf-overlap-offset-overflow": [
            "elf: 0 cpus, 1 ranges",
            "problem: elf-overlap-offset-overflow: at byte 360 (0x168): note area of 1632 bytes lies beyond the end of the file (1488 bytes); skipped",
            "problem: elf-overlap-offset-overflow: at byte 248 (0xf8): PT_LOAD #1 needs 257 bytes at file offset 0x7c8 but the file ends after 0 of them (truncated dump): physical 0x0-0x101 is missing",
            "problem: elf-overlap-offset-overflow: at byte 696 (0x2b8): PT_LOAD #9 needs 10 bytes at file offset 0xffffffff80113060 but the file ends after 0 of them (truncated dump): physical 0x3f8-0x402 is missing",
            "page 0: elf-overlap-offset-overflow: at byte 1992 (0x7c8): physical page 0x0 (PT_LOAD #1) lies beyond the end of the truncated file",
        ],
        "elf-page-past-filesz-and-memsz": [
            "elf: 1 cpus, 1 ranges",
            "problem: elf-page-past-filesz-and-memsz: at byte 67373000 (0x40407c8): section name table (11 bytes) lies beyond the end of the file; names left empty",
            "problem: elf-page-past-filesz-and-memsz: at byte 1988 (0x7c4): truncated note header (4 bytes left in the note area)",
            "page 0: physical address 0x0 is not in the dump",
        ],
        // bitmap_blocks 0xfffffffe and a 2^40 max_mapnr_64: the reader once
        // allocated the 128 GiB bitmap array before reading it (a crash).
        "kdump-huge-bitmap-flattened": [
            "kdump-flattened: 2 cpus, 0 ranges",
            "problem: kdump-huge-bitmap-flattened: at byte 12321 (0x3021): dumped-page bitmap (137438953472 bytes at logical offset 8796093026304 for max_mapnr 1099511627776) unreadable: flattened dump has no record for logical offset 8796093026304 (truncated or incomplete stream; the nearest record before it ends here); no pages can be located",
        ],
        "kdump-huge-bitmap-plain": [
            "kdump-compressed: 2 cpus, 0 ranges",
            "problem: kdump-huge-bitmap-plain: at byte 18294 (0x4776): dumped-page bitmap (137438953472 bytes at logical offset 8796093026304 for max_mapnr 1099511627776) unreadable: needs 137438953472 bytes here but the file has 18294 bytes (truncated dump); no pages can be located",
        ],
        "xc-core-huge-index-count": [
            "xen-core: 2 cpus, 3 ranges",
            "problem: xc-core-huge-index-count: at byte 77824 (0x13000): .xen_p2m is not in ascending pfn order; lookups use a sorted copy",
            "page 0: 4096 bytes",
            "page 9: 4096 bytes",
            "page 13: 4096 bytes",
        ],
        // A p2m entry with pfn 2^52 - 1: its range's end, (pfn + 1) << 12,
        // wrapped to 0 and the Range trapped (found by the xc_core fuzzer).
        "xc-core-pfn-2-to-52-minus-1": [
            "xen-core: 1 cpus, 5 ranges",
            "problem: xc-core-pfn-2-to-52-minus-1: at byte 77824 (0x13000): .xen_p2m is not in ascending pfn order; lookups use a sorted copy",
            "page 0: 4096 bytes",
            "page 4: 4096 bytes",
            "page 7: 4096 bytes",
            "page 11: 4096 bytes",
        ],
        "xc-core-pfn-range-wrap": [
            "xen-core: 14 cpus, 3 ranges",
            "problem: xc-core-pfn-range-wrap: at byte 77824 (0x13000): .xen_p2m is not in ascending pfn order; lookups use a sorted copy",
            "problem: xc-core-pfn-range-wrap: at byte 73800 (0x12048): range of 5168 bytes at 0x12048 lies beyond the end of the file (78520 bytes)",
            "page 0: 4096 bytes",
            "page 4: 4096 bytes",
            "page 10: 4096 bytes",
        ],
        "xc-core-pfn-range-wrap-2": [
            "xen-core: 14 cpus, 2 ranges",
            "problem: xc-core-pfn-range-wrap-2: at byte 1424 (0x590): note (name 4026595393 bytes, descriptor 4026590206 bytes) runs past the end of its note area",
            "problem: xc-core-pfn-range-wrap-2: at byte 77824 (0x13000): .xen_pfn is not in ascending pfn order; lookups use a sorted copy",
            "problem: xc-core-pfn-range-wrap-2: at byte 73800 (0x12048): range of 5168 bytes at 0x12048 lies beyond the end of the file (78392 bytes)",
            "page 0: 4096 bytes",
            "page 13: 4096 bytes",
        ],
    ]
}

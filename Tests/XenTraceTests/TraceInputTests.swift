import Foundation
import Testing
import BinaryIO
@testable import XenTrace

/// The reader API on the real sample: mapped file, pipe, compressed files,
/// both orders, all giving the exact figures.
@Suite struct TraceInputTests {
    static let perCPU = [46_918, 6_840, 37_770, 4_649, 23_867, 10_862, 41_077, 8_697]

    func checkSampleFigures(_ info: TraceInfo) {
        #expect(info.diagnostics.isEmpty)
        #expect(info.totalRecords == 180_680)
        #expect(info.cpuChangeRecords == 187)
        #expect(info.cpus.map(\.records) == TraceInputTests.perCPU)
        #expect(info.eventCounts.count == 44)
        #expect(info.wrapRecords == 27)
        #expect(info.eventCounts[0x0002_220c] == 15_074)
        #expect(info.eventCounts[0x0008_1001] == 5_873)
        #expect(info.totalBytes == 3_896_732)
    }

    @Test(arguments: RecordOrder.allCases)
    func sampleThroughTraceInput(order: RecordOrder) throws {
        let input = try TraceInput.open(samplePath("xen-4.x-public.xentrace"))
        #expect(input.isMapped)
        checkSampleFigures(try TraceInfo(input, order: order))
    }

    @Test func tscOrderIsAMergeOfTheFileOrderStreams() throws {
        let input = try TraceInput.open(samplePath("xen-4.x-public.xentrace"))
        let (byFile, _) = try readAll(input, order: .file)
        let (byTSC, d) = try readAll(input, order: .tsc)
        #expect(d.isEmpty)
        #expect(byTSC.count == byFile.count)
        // Non-decreasing TSC, equal TSCs in file order.
        var bad = 0
        for (a, b) in zip(byTSC, byTSC.dropFirst()) where a.tsc > b.tsc || (a.tsc == b.tsc && a.offset > b.offset) { bad += 1 }
        #expect(bad == 0)
        // Each CPU's records in the same order as in the file.
        for cpu in UInt32(0)..<8 {
            #expect(byTSC.filter { $0.cpu == cpu }.map(\.offset) == byFile.filter { $0.cpu == cpu }.map(\.offset))
        }
        // Records without TSC carry their CPU's previous TSC in both orders.
        #expect(Dictionary(uniqueKeysWithValues: byFile.map { ($0.offset, $0.tsc) })
                == Dictionary(uniqueKeysWithValues: byTSC.map { ($0.offset, $0.tsc) }))
    }

    @Test func stopsWhenBodyReturnsFalse() throws {
        let input = try TraceInput.open(samplePath("xen-4.x-public.xentrace"))
        for order in RecordOrder.allCases {
            var n = 0
            try input.forEachRecord(order: order) { _ in n += 1; return n < 10 }
            #expect(n == 10)
        }
    }

    @Test(arguments: ["gzip", "xz", "zstd"])
    func compressedSample(tool: String) throws {
        let dir = try makeTempDir("compressed")
        defer { removeDir(dir) }
        // A name that does not hint at the format: detection is by magic bytes.
        let path = dir + "/trace.bin"
        let status = try run(tool, ["-c"], stdin: samplePath("xen-4.x-public.xentrace"), stdout: path)
        #expect(status == 0, "\(tool) is needed (make test installs it)")
        for order in RecordOrder.allCases {
            let input = try TraceInput.open(path)
            #expect(!input.isMapped)
            #expect(input.compression.rawValue == tool)
            checkSampleFigures(try TraceInfo(input, order: order))
        }
    }

    @Test func pipeIsReadAsAStream() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: samplePath("xen-4.x-public.xentrace")))
        let writer = Thread {
            bytes.withUnsafeBytes { b in
                var off = 0
                while off < b.count {
                    let n = write(writeEnd, b.baseAddress! + off, min(65_536, b.count - off))
                    if n <= 0 { break }
                    off += n
                }
            }
            close(writeEnd)
        }
        writer.start()
        let input = TraceInput(name: "pipe", stream: FileStream(fd: readEnd, name: "pipe", ownsFD: true))
        checkSampleFigures(try TraceInfo(input, order: .file))
        // A stream is read once.
        #expect(throws: InputError.self) { try input.forEachRecord(order: .file) { _ in true } }
    }
}

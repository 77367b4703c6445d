import Foundation
import Testing
import BinaryIO
@testable import XenTrace

/// Input that is not a trace (zeros, random bytes, endless or huge) and real
/// traces with such bytes appended or inserted: the reader reports where the
/// garbage starts, keeps every valid record and stops within
/// `RecordScanner.maxGarbageBytes` of garbage (docs/trace-reader.md, "Input
/// that is not a trace"). Each case is read four ways (mapped or streamed,
/// file or TSC order) through `DamageTests.check`.
@Suite struct NotATraceTests {
    typealias D = DamageTests

    static func zeros(_ n: Int) -> [UInt8] { [UInt8](repeating: 0, count: n) }
    static func random(_ n: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix(seed: seed)
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }
    static func sample(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: samplePath(name))))
    }
    /// Offsets of every record (CPU-change records too) of an intact input.
    static func offsets(_ bytes: [UInt8]) -> [Int] {
        bytes.withUnsafeBytes { b in
            var s = RecordScanner(b)
            var out: [Int] = []
            while let r = s.next() { out.append(r.offset) }
            #expect(s.diagnostics.isEmpty)
            return out
        }
    }

    @Test func possibleEventIDs() {
        for e: UInt32 in [0x0001_f001, 0x0001_f002, 0x0001_f003, 0x0002_1011, 0x0002_800a, 0x0002_2201,
                          0x0004_1001, 0x0008_1102, 0x0008_2001, 0x0010_f001, 0x0020_100d, 0x0040_f001,
                          0x0080_2008, 0x0800_f000 | 1] {
            #expect(EventID.isPossible(e), "0x\(String(e, radix: 16))")
        }
        #expect(!EventID.isPossible(0))
        #expect(EventID.impossibility(0) == "no class bit set")
        #expect(!EventID.isPossible(0x0000_1001))
        #expect(!EventID.isPossible(0x0003_1001))
        #expect(EventID.impossibility(0x0392_5648) == "class bits 0x392 name more than one class")
        #expect(!EventID.isPossible(0x0002_0001))
        #expect(EventID.impossibility(0x0100_0100) == "subclass 0")
    }

    @Test func zerosAreNotATrace() throws {
        try D().check(Self.zeros(65536), offsets: [], diags: [(.notATrace, 0, nil)],
                      messages: ["notATrace": "not a xentrace trace: record header 0x00000000 names event 0x00000000, which Xen never writes (no class bit set); no plausible CPU-change record or run of records follows; 65536 byte(s) to the end of the input skipped"])
    }

    @Test func randomBytesAreNotATrace() throws {
        let junk = Self.random(1 << 20, seed: 2026)
        #expect(Array(junk.prefix(4)) == [0x23, 0x5d, 0x8e, 0xf2])
        try D().check(junk, offsets: [], diags: [(.notATrace, 0, nil)],
                      messages: ["notATrace": "not a xentrace trace: record header 0xf28e5d23 names event 0x028e5d23, which Xen never writes (class bits 0x28e name more than one class); no plausible CPU-change record or run of records follows; 1048576 byte(s) to the end of the input skipped"])
    }

    /// A gibibyte of zeros (a sparse file): reading stops after
    /// `maxGarbageBytes`, also from a stream (its read position proves it).
    @Test func hugeZerosStopAfterTheGarbageBound() throws {
        #expect(RecordScanner.maxGarbageBytes == 268_431_372)
        let dir = try makeTempDir("zeros")
        defer { removeDir(dir) }
        let path = dir + "/zeros"
        try writeFile(path, [])
        #expect(truncate(path, 1 << 30) == 0)
        let message = "record header 0x00000000 names event 0x00000000, which Xen never writes (no class bit set); no plausible CPU-change record or run of records in the 268431372 bytes from here: not a xentrace stream; stopped reading"
        for order in RecordOrder.allCases {
            let (records, d) = try readAll(try TraceInput.open(path), order: order)
            #expect(records.isEmpty)
            #expect(d.map(\.description) == ["\(path): at byte 0 (0x0): \(message)"], "\(order)")
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            let (r2, d2) = try readAll(TraceInput(name: path, stream: FileStream(fd: fd, name: path, ownsFD: false)), order: order)
            #expect(r2.isEmpty)
            #expect(d2.map(\.description) == ["\(path): at byte 0 (0x0): \(message)"], "stream, \(order)")
            let readTo = lseek(fd, 0, SEEK_CUR)
            #expect(readTo >= RecordScanner.maxGarbageBytes && readTo <= RecordScanner.maxGarbageBytes + TraceInput.streamBuffer, "stream, \(order): read to \(readTo)")
        }
    }

    @Test func garbageAppendedToARealTraceKeepsEveryRecord() throws {
        let s = try Self.sample("xen-4.17.5-selfbuilt-qemu-sched-dom0-pvdomU.xentrace")
        #expect(s.count == 119_180)
        let all = Self.offsets(s)
        #expect(all.count == 5_138 + 42)   // records + CPU-change records
        try D().check(s + Self.zeros(1 << 20), offsets: all, diags: [(.garbage, 119_180, nil)],
                      messages: ["garbage": "expected a CPU-change record (header 0x2001f003), found 0x00000000; no plausible CPU-change record follows; 1048576 byte(s) to the end of the input skipped"])
        let junk = Self.random(65536, seed: 5)
        let first = UInt32(junk[0]) | UInt32(junk[1]) << 8 | UInt32(junk[2]) << 16 | UInt32(junk[3]) << 24
        try D().check(s + junk, offsets: all, diags: [(.garbage, 119_180, nil)],
                      messages: ["garbage": "expected a CPU-change record (header 0x2001f003), found 0x\(hex8(first)); no plausible CPU-change record follows; 65536 byte(s) to the end of the input skipped"])
    }

    @Test func garbageInTheMiddleOfARealTraceIsSkipped() throws {
        let s = try Self.sample("xen-4.17.5-selfbuilt-qemu-sched-dom0-pvdomU.xentrace")
        let all = Self.offsets(s)
        // The CPU-change record nearest the middle.
        let windows = s.withUnsafeBytes { b in all.filter { ScanCore.load32(b, $0) == ScanCore.cpuChangeHeader } }
        let cut = windows.min { abs($0 - s.count / 2) < abs($1 - s.count / 2) }!
        #expect(cut == 60_248)
        for junk in [Self.zeros(4096), Self.random(4096, seed: 9)] {
            let bytes = Array(s[..<cut]) + junk + Array(s[cut...])
            let first = UInt32(junk[0]) | UInt32(junk[1]) << 8 | UInt32(junk[2]) << 16 | UInt32(junk[3]) << 24
            try D().check(bytes, offsets: all.map { $0 < cut ? $0 : $0 + 4096 }, diags: [(.garbage, cut, nil)],
                          messages: ["garbage": "expected a CPU-change record (header 0x2001f003), found 0x\(hex8(first)); 4096 byte(s) skipped up to the next plausible CPU-change record at byte \(cut + 4096)"])
        }
    }

    /// Bytes of a cut record before header-less records: skipped up to the
    /// run of possible records (r1, r2, then a plausible CPU-change record).
    @Test func cutRecordBeforeHeaderlessRecords() throws {
        let bytes: [UInt8] = [0x00, 0x01, 0x00] + D.r1 + D.r2 + D.windowB + D.windowC
        try D().check(bytes, offsets: [3, 23, 31, 43, 55, 79, 91], cpus: [0, 0, 1, 1, 1, 0, 0],
                      diags: [(.noCPUChange, 0, 0), (.garbage, 0, nil)],
                      messages: ["garbage": "record header 0x0e000100 names event 0x0e000100, which Xen never writes (class bits 0xe00 name more than one class); 3 byte(s) skipped up to the next run of plausible records at byte 3"])
    }

    @Test func zerosBeforeARealStart() throws {
        try D().check(Self.zeros(100) + D.base, offsets: D.allOffsets.map { $0 + 100 },
                      diags: [(.noCPUChange, 0, 0), (.garbage, 0, nil)],
                      messages: ["garbage": "record header 0x00000000 names event 0x00000000, which Xen never writes (no class bit set); 100 byte(s) skipped up to the next plausible CPU-change record at byte 100"])
    }

    /// Xen 4.17's `xentrace -M` dump from a CI lab boot that starts 17 bytes
    /// into a record and has no CPU-change record: the header-less start is
    /// reported at byte 0, as LabRecordTests expects, and the real records
    /// after the 17 bytes are read (they used to be 2,286 misaligned ones).
    @Test func xentraceMemoryDumpStartingMidRecord() throws {
        let bytes = Array(try Data(contentsOf: CorpusTests.folder("Tests/XenTraceTests/Corpus/xentrace-M-dump-starting-mid-record")))
        #expect(bytes.count == 24_405)
        let offsets = bytes.withUnsafeBytes { b in
            var s = RecordScanner(b)
            var out: [Int] = []
            while let r = s.next() { out.append(r.offset) }
            return out
        }
        #expect(offsets.count == 1_163)
        #expect(offsets.first == 17)
        try D().check(bytes, offsets: offsets, diags: [(.noCPUChange, 0, 0), (.garbage, 0, nil)],
                      messages: ["garbage": "record header 0x01000100 names event 0x01000100, which Xen never writes (subclass 0); 17 byte(s) skipped up to the next run of plausible records at byte 17"])
        let info = TraceInfo(try TraceFile(path: CorpusTests.folder("Tests/XenTraceTests/Corpus/xentrace-M-dump-starting-mid-record").path))
        #expect(info.diagnostics.first?.kind == .noCPUChange && info.diagnostics.first?.offset == 0)
        #expect(info.cpus.map(\.records) == [1_163])
    }
}

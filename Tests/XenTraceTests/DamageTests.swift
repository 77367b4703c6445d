import Foundation
import Testing
import BinaryIO
@testable import XenTrace

/// Damaged inputs: each case states the exact records still delivered and
/// the exact diagnostics (kind, byte offset, CPU), and must give the same
/// answer through every reader: mapped file or stream, file or TSC order.
@Suite struct DamageTests {
    typealias Diag = (kind: TraceDiagnostic.Kind, offset: Int, cpu: UInt32?)

    static func word(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func cc(_ cpu: UInt32, _ size: UInt32) -> [UInt8] { word(0x2001_f003) + word(cpu) + word(size) }
    static func rec(_ event: UInt32, tsc: UInt64?, _ words: [UInt32]) -> [UInt8] {
        var b = word(event | UInt32(words.count) << 28 | (tsc == nil ? 0 : 0x8000_0000))
        if let tsc { b += word(UInt32(truncatingIfNeeded: tsc)) + word(UInt32(tsc >> 32)) }
        for w in words { b += word(w) }
        return b
    }

    // The base trace: three windows, 8 records.
    //   0 cc cpu0 size 28 | 12 r1 (TSC 1000, 2 words) | 32 r2 (no TSC, 1 word)
    //  40 cc cpu1 size 36 | 52 r3 (TSC 1500) | 64 r4 (TSC 1600, 3 words)
    //  88 cc cpu0 size 12 | 100 r5 (TSC 2000)           end 112
    static let r1 = rec(0x0002_800e, tsc: 1000, [1, 2])
    static let r2 = rec(0x0008_2001, tsc: nil, [0xdead_beef])
    static let r3 = rec(0x0002_8004, tsc: 1500, [])
    static let r4 = rec(0x0002_800a, tsc: 1600, [3, 4, 5])
    static let r5 = rec(0x0001_f001, tsc: 2000, [])
    static var windowA: [UInt8] { cc(0, 28) + r1 + r2 }
    static var windowB: [UInt8] { cc(1, 36) + r3 + r4 }
    static var windowC: [UInt8] { cc(0, 12) + r5 }
    static var base: [UInt8] { windowA + windowB + windowC }
    static let allOffsets = [0, 12, 32, 40, 52, 64, 88, 100]

    /// Reads `bytes` four ways and checks each against the expectations.
    func check(_ bytes: [UInt8], offsets: [Int], cpus: [UInt32]? = nil, diags: [Diag],
               messages: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try makeTempDir("damage")
        defer { removeDir(dir) }
        let path = dir + "/t.xentrace"
        try writeFile(path, bytes)
        for streamed in [false, true] {
            for order in RecordOrder.allCases {
                let input: TraceInput
                if streamed {
                    let fd = open(path, O_RDONLY)
                    input = TraceInput(name: path, stream: FileStream(fd: fd, name: path, ownsFD: true))
                } else {
                    input = try TraceInput.open(path)
                }
                let (records, d) = try readAll(input, order: order)
                let how = "\(streamed ? "stream" : "mapped"), \(order) order"
                #expect(records.map(\.offset).sorted() == offsets, "\(how)", sourceLocation: sourceLocation)
                if let cpus {
                    #expect(records.sorted { $0.offset < $1.offset }.map(\.cpu) == cpus, "\(how)", sourceLocation: sourceLocation)
                }
                #expect(d.map { "\($0.kind) \($0.offset) \($0.cpu.map(String.init) ?? "-")" }
                        == diags.map { "\($0.kind) \($0.offset) \($0.cpu.map(String.init) ?? "-")" }, "\(how)", sourceLocation: sourceLocation)
                #expect(d.allSatisfy { $0.file == path })
                for (kind, text) in messages {
                    #expect(d.first { "\($0.kind)" == kind }?.message == text, "\(how)", sourceLocation: sourceLocation)
                }
            }
        }
    }

    @Test func intactTrace() throws {
        try check(DamageTests.base, offsets: DamageTests.allOffsets, cpus: [0, 0, 0, 1, 1, 1, 0, 0], diags: [])
    }

    @Test func recordCutByTheEndOfTheFile() throws {
        try check(Array(DamageTests.base.prefix(106)), offsets: Array(DamageTests.allOffsets.prefix(7)),
                  diags: [(.windowPastEnd, 88, 0), (.truncatedRecord, 100, 0)],
                  messages: ["windowPastEnd": "window of 12 bytes ends 6 byte(s) past the end of the input",
                             "truncatedRecord": "record of 12 bytes (event 0x0001f001) cut by the end of the input after 6 bytes"])
        try check(Array(DamageTests.base.prefix(102)), offsets: Array(DamageTests.allOffsets.prefix(7)),
                  diags: [(.windowPastEnd, 88, 0), (.truncatedRecord, 100, 0)],
                  messages: ["truncatedRecord": "2 trailing byte(s), too short for a record header"])
        // Cut inside a CPU-change record.
        try check(Array(DamageTests.base.prefix(95)), offsets: Array(DamageTests.allOffsets.prefix(6)),
                  diags: [(.truncatedRecord, 88, 1)],
                  messages: ["truncatedRecord": "CPU-change record cut by the end of the input after 7 bytes"])
    }

    @Test func windowSizePastTheEnd() throws {
        let bytes = DamageTests.windowA + DamageTests.windowB + DamageTests.cc(0, 1000) + DamageTests.r5
        try check(bytes, offsets: DamageTests.allOffsets, diags: [(.windowPastEnd, 88, 0)],
                  messages: ["windowPastEnd": "window of 1000 bytes ends 988 byte(s) past the end of the input"])
    }

    @Test func recordCrossingItsWindow() throws {
        // Window A claims 24 bytes: r2 (8 bytes at 32) crosses its end at 36;
        // the 4 bytes left of r2 are not a CPU-change record: garbage to 40.
        let bytes = DamageTests.cc(0, 24) + DamageTests.r1 + DamageTests.r2 + DamageTests.windowB + DamageTests.windowC
        try check(bytes, offsets: [0, 12, 40, 52, 64, 88, 100],
                  diags: [(.recordCrossesWindow, 32, 0), (.garbage, 36, nil)],
                  messages: ["recordCrossesWindow": "record of 8 bytes (event 0x00082001) crosses the end of its CPU window at byte 36; skipping 4 byte(s)",
                             "garbage": "expected a CPU-change record (header 0x2001f003), found 0xdeadbeef; 4 byte(s) skipped up to the next plausible CPU-change record at byte 40"])
    }

    @Test func tscGoingBackwards() throws {
        let bytes = DamageTests.windowA + DamageTests.windowB + DamageTests.cc(0, 12) + DamageTests.rec(0x0001_f001, tsc: 900, [])
        try check(bytes, offsets: DamageTests.allOffsets, diags: [(.tscBackwards, 100, 0)],
                  messages: ["tscBackwards": "TSC went backwards by 100 cycles (from 1000 to 900)"])
    }

    @Test func garbageBetweenWindowsIsSkipped() throws {
        var rng = SplitMix(seed: 7)
        let junk = (0..<13).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let bytes = DamageTests.windowA + junk + DamageTests.windowB + DamageTests.windowC
        try check(bytes, offsets: [0, 12, 32, 53, 65, 77, 101, 113], cpus: [0, 0, 0, 1, 1, 1, 0, 0],
                  diags: [(.garbage, 40, nil)])
    }

    @Test func largeRandomGarbageThenAValidTrace() throws {
        var rng = SplitMix(seed: 1)
        let junk = (0..<10_001).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let bytes = DamageTests.windowA + junk + DamageTests.base
        let shifted = DamageTests.allOffsets.map { $0 + 40 + 10_001 }
        try check(bytes, offsets: [0, 12, 32] + shifted, diags: [(.garbage, 40, nil)])
        // Garbage to the end of the input.
        try check(DamageTests.base + junk, offsets: DamageTests.allOffsets, diags: [(.garbage, 112, nil)],
                  messages: ["garbage": "expected a CPU-change record (header 0x2001f003), found 0x\(hex8(UInt32(junk[0]) | UInt32(junk[1]) << 8 | UInt32(junk[2]) << 16 | UInt32(junk[3]) << 24)); no plausible CPU-change record follows; 10001 byte(s) to the end of the input skipped"])
    }

    @Test func implausibleCPUAndMisalignedSize() throws {
        let b1 = DamageTests.windowA + DamageTests.cc(5000, 36) + DamageTests.r3 + DamageTests.r4 + DamageTests.windowC
        try check(b1, offsets: [0, 12, 32, 88, 100], diags: [(.implausibleCPU, 40, nil)])
        let b2 = DamageTests.windowA + DamageTests.cc(1, 35) + DamageTests.r3 + DamageTests.r4 + DamageTests.windowC
        try check(b2, offsets: [0, 12, 32, 88, 100], diags: [(.garbage, 40, nil)])
    }

    @Test func recordsBeforeTheFirstCPUChange() throws {
        let bytes = DamageTests.r1 + DamageTests.r2 + DamageTests.windowB + DamageTests.windowC
        try check(bytes, offsets: [0, 20, 28, 40, 52, 76, 88], cpus: [0, 0, 1, 1, 1, 0, 0],
                  diags: [(.noCPUChange, 0, 0)])
    }

    @Test func emptyInput() throws {
        try check([], offsets: [], diags: [(.emptyInput, 0, nil)])
    }

    @Test func unopenableInputsNameTheFile() throws {
        let dir = try makeTempDir("open")
        defer { removeDir(dir) }
        do {
            _ = try TraceInput.open(dir)
            Issue.record("a directory must be refused")
        } catch let e as InputError {
            #expect(e.description == "\(dir): is a directory")
        }
        do {
            _ = try TraceInput.open(dir + "/missing")
            Issue.record("a missing file must be refused")
        } catch let e as InputError {
            #expect(e.description == "\(dir)/missing: cannot open: No such file or directory")
        }
    }

    @Test func corruptCompressedDataKeepsWhatDecoded() throws {
        let dir = try makeTempDir("gzcut")
        defer { removeDir(dir) }
        let gz = dir + "/t.gz"
        #expect(try run("gzip", ["-c"], stdin: samplePath("xen-4.x-public.xentrace"), stdout: gz) == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: gz))
        let cut = dir + "/cut.gz"
        try writeFile(cut, Array(data.prefix(data.count / 2)))
        let (records, d) = try readAll(try TraceInput.open(cut), order: .file)
        #expect(records.count > 10_000)
        let io = d.filter { $0.kind == .ioError }
        #expect(io.count == 1)
        #expect(io.first?.message.contains("gzip data ends early") == true)
    }
}

/// A small deterministic PRNG for tests (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

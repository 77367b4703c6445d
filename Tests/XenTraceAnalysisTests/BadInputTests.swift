import Foundation
import Testing
import XenTraceAnalysis

/// Damaged traces: the summary keeps going, reports what it skipped (with
/// offsets), and never crashes or hangs.
@Suite struct BadInputTests {
    func summarize(_ b: [UInt8]) -> TraceSummary {
        b.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "damaged") }
    }

    @Test func truncatedAnywhere() throws {
        let g = GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 60, seed: 9)
        let full = summarize(g.bytes)
        #expect(full.diagnostics.isEmpty)
        var rng = GeneratedTrace.RNG(s: 77)
        for _ in 0..<60 {
            let cut = rng.below(g.bytes.count)
            let s = summarize(Array(g.bytes[..<cut]))
            #expect(s.records <= full.records)
            if cut % 4 != 0 || cut < 12 { #expect(!s.diagnostics.isEmpty || s.records == 0 || cut == 0) }
        }
    }

    @Test func corruptedBytes() throws {
        let g = GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 60, seed: 10, loseOnCPU: 1)
        var rng = GeneratedTrace.RNG(s: 99)
        for round in 0..<80 {
            var b = g.bytes
            for _ in 0..<(1 + round % 20) { b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            let s = summarize(b)
            // Figures stay within what the input can hold.
            #expect(s.records <= b.count / 4)
            for a in s.anomalies { #expect(a.offsets.allSatisfy { $0 >= 0 && $0 < b.count }) }
        }
    }

    @Test func garbageAndEmpty() throws {
        var rng = GeneratedTrace.RNG(s: 5)
        let garbage = (0..<65_536).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let s = summarize(garbage)
        #expect(!s.diagnostics.isEmpty)
        let e = summarize([])
        #expect(e.records == 0 && e.domains.isEmpty)
        #expect(throws: (any Error).self) { try Summarizer.summarize(path: "/nonexistent/trace") }
        #expect(throws: (any Error).self) { try Summarizer.summarize(path: "/tmp") }
    }
}

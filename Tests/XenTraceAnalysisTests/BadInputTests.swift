import Foundation
import Testing
import XenTrace
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

/// The "bad input" list beyond damage: traces that are well formed
/// but incomplete or contradictory. The summary reports what it could not
/// account for (kind, count, offsets) and does not make up figures.
@Suite struct IncompleteTraceTests {
    func summarize(_ b: [UInt8]) -> TraceSummary {
        b.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "partial") }
    }

    /// Only the scheduler class (and gen) enabled: the runstate figures equal
    /// the full trace's; no HVM, PV, IRQ or power sections appear, and
    /// nothing is reported as missing from them.
    @Test func schedulerClassOnly() throws {
        let full = summarize(GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 80, seed: 4).bytes)
        let g = GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 80, seed: 4, classes: [0x1, 0x2])
        let s = summarize(g.bytes)
        #expect(s.records == g.records && s.records < full.records)
        #expect(s.hvmFlavour == nil && s.exits.isEmpty)
        #expect(s.domains.allSatisfy { $0.hypercalls.isEmpty })
        #expect(s.domains.allSatisfy { $0.vcpus.allSatisfy { $0.kind == "unknown" && $0.exits.isEmpty && $0.pv == nil } })
        #expect(s.irqVectors.isEmpty && s.power.allSatisfy { $0.cstates.isEmpty })
        #expect(s.anomalies.isEmpty, "\(s.anomalies)")
        func residency(_ x: TraceSummary) -> [String: [UInt64]] {
            var m: [String: [UInt64]] = [:]
            for d in x.domains { for v in d.vcpus { m["d\(d.domain)v\(v.vcpu)"] = v.runstates.map(\.stats.cycles) } }
            return m
        }
        #expect(residency(s) == residency(full))
        #expect(s.top.map(\.domain) == full.top.map(\.domain))
        let text = SummaryText.render(s)
        #expect(!text.contains("HVM exits") && !text.contains("PV:"))
    }

    /// No scheduler class: no vCPU is ever named, so HVM and PV records
    /// cannot be given to one. No guest domain or vCPU is made up, PV
    /// records are not attributed, and every exit timed on a pCPU whose
    /// vCPU is unknown is reported as such, with offsets.
    @Test func noSchedulerClass() throws {
        let g = GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 40, seed: 6, classes: [0x1, 0x8, 0x20])
        let s = summarize(g.bytes)
        #expect(s.records == g.records)
        #expect(s.domains.isEmpty, "domains \(s.domains.map(\.domain))")
        #expect(s.top.isEmpty)
        let exits = s.exits.reduce(0) { $0 + $1.stats.events }
        let unknown = try #require(s.anomalies.first { $0.kind == "exit-unknown-vcpu" })
        #expect(exits > 0 && unknown.count >= exits)
        #expect(unknown.offsets.count == 10)
        let pv = try #require(s.anomalies.first { $0.kind == "mixed-vcpu-kind" || $0.kind == "no-current-vcpu" })
        #expect(pv.count > 0)
        let text = SummaryText.render(s)
        #expect(text.contains("exit-unknown-vcpu"))
    }

    /// Runstate changes from states the vCPU was not in, and one Xen never
    /// makes: each is reported with its record's offset, the intervals the
    /// records do prove are counted, and nothing else.
    @Test func runstateFromUnexpectedState() throws {
        let idle: UInt32 = 32767 << 16, who: UInt32 = 1 << 16
        func rs(_ old: UInt32, _ new: UInt32, _ w: UInt32, _ t: UInt64) -> TraceRecord {
            TraceRecord(cpu: 0, event: 0x21001 | old << 8 | new << 4, tsc: t, extra: [w])
        }
        let recs: [TraceRecord] = [
            TraceRecord(cpu: 0, event: 0x21002, tsc: 1_000, extra: [idle]),   // 0: idle runs
            rs(0, 1, idle, 2_000), rs(1, 0, who, 2_000),                        // 1, 2: d1v0 scheduled
            rs(0, 2, who, 5_000), rs(1, 0, idle, 5_000),                        // 3, 4: it blocks
            rs(0, 1, idle, 8_000), rs(2, 0, who, 8_000),                        // 5, 6: blocked → running directly
            rs(0, 2, who, 9_000), rs(1, 0, idle, 9_000),                        // 7, 8: blocks again
            rs(0, 1, idle, 12_000), rs(1, 0, who, 12_000),                      // 9, 10: "runnable → running", but it was blocked
            rs(0, 2, who, 15_000), rs(1, 0, idle, 15_000),                      // 11, 12
        ]
        var w = TraceWriter()
        w.appendWindow(cpu: 0, records: recs)
        let s = summarize(w.bytes)
        // Offsets: a 12-byte CPU-change record, then 16 bytes per record.
        let unexpected = try #require(s.anomalies.first { $0.kind == "unexpected-transition" })
        #expect(unexpected.count == 1 && unexpected.offsets == [12 + 16 * 6])
        #expect(unexpected.example.contains("d1v0 blocked→running"))
        let mismatch = try #require(s.anomalies.first { $0.kind == "runstate-mismatch" })
        #expect(mismatch.count == 1 && mismatch.offsets == [12 + 16 * 10])
        let v = try #require(s.domains.first { $0.domain == 1 }?.vcpus.first)
        // running 2000→5000, 8000→9000, 12000→15000; blocked 5000→8000, 9000→12000.
        #expect(v.runstates[0].stats.cycles == 7_000 && v.runstates[0].stats.count == 3)
        #expect(v.runstates[2].stats.cycles == 6_000 && v.runstates[2].stats.count == 2)
        #expect(v.runstates[1].stats.count == 0 && v.runnableAfterWake.count == 0)
        let text = SummaryText.render(s)
        #expect(text.contains("runstate-mismatch") && text.contains("\(12 + 16 * 10)"))
    }
}

import Foundation
import Testing
import XenTraceAnalysis

@Suite struct DiffTests {
    @Test func sameTraceShowsNoChange() throws {
        let s = try Summarizer.summarize(path: samplePath("xen-4.x-public.xentrace"))
        let d = SummaryDiff(s, s)
        #expect(d.exits.count == s.exits.count)
        for r in d.exits {
            let e = try #require(s.exits.first { $0.name == r.key })
            #expect(r.countA == e.stats.events && r.countB == e.stats.events)
            #expect(r.meanRatio == 1 && r.rateRatio == 1)
        }
        #expect(!d.render().contains("In short"))
    }

    @Test func slowerExitIsNamed() throws {
        let a = GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 200, seed: 11)
        let b = GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 200, seed: 11, slowReason: 30)
        let sa = a.bytes.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "a") }
        let sb = b.bytes.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "b") }
        let d = SummaryDiff(sa, sb)
        let io = try #require(d.exits.first { $0.key == "IO_INSTRUCTION" })
        #expect(io.countA == io.countB)                 // same seed: same exits
        #expect(io.meanRatio > 5)                       // ten times the handling time
        #expect(d.exits.first?.key == "IO_INSTRUCTION") // biggest growth of time share first
        let others = d.exits.filter { $0.key != "IO_INSTRUCTION" && $0.key != "HLT" }
        let steady = others.allSatisfy { (r: SummaryDiff.Row) -> Bool in r.meanRatio > 0.5 && r.meanRatio < 2 }
        #expect(steady)
        #expect(d.render().contains("exit IO_INSTRUCTION got slower"))
    }

    @Test func summaryJSONRoundTrips() throws {
        let s = try Summarizer.summarize(path: samplePath("xen-4.17-qemu-all-dom0-pvdomU-load.xentrace"))
        let back = try SummaryJSON.decode(Data(SummaryJSON.encode(s).utf8))
        #expect(try SummaryJSON.encode(back) == SummaryJSON.encode(s))
        let n1: Int = back.domains.flatMap(\.hypercalls).map(\.count).reduce(0, +)
        let n2: Int = s.domains.flatMap(\.hypercalls).map(\.count).reduce(0, +)
        #expect(n1 == n2 && n1 > 0)
    }
}

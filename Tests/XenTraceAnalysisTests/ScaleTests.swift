import Foundation
import Testing
import XenTrace
import XenTraceAnalysis

/// The scale shape (2,000 domains, 8,000 vCPUs) from the synthesizer,
/// checked through the summary: every domain and vCPU the generator made is
/// counted, no more, no fewer.
@Suite struct ScaleTests {
    @Test func summaryCounts2000DomainsAnd8000VCPUs() throws {
        var o = TraceSynthesizer.Options()
        o.size = 48 << 20      // enough for every vCPU to run at least once outside a lost span
        o.cpus = 8
        o.domains = 2000
        o.vcpus = 8000
        o.seed = 1
        var bytes: [UInt8] = []
        bytes.reserveCapacity(o.size + (1 << 20))
        let counts = TraceSynthesizer(o).generate { bytes.append(contentsOf: $0) }
        #expect(counts.lostRecords > 0, "the collector stalls: a realistic trace loses records")
        let s = bytes.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "scale") }
        #expect(s.records == counts.records)
        #expect(s.lostRecords == UInt64(counts.lostRecords))
        let guests = s.domains.filter { $0.domain < 32767 }
        #expect(guests.count == 2000)
        #expect(guests.map(\.domain) == Array(0..<2000))
        #expect(guests.reduce(0) { $0 + $1.vcpus.count } == 8000)
        // Each domain's vCPUs are numbered 0..<n, and the sizes vary (1 to 7 around the mean of 4).
        #expect(guests.allSatisfy { $0.vcpus.map(\.vcpu) == Array(0..<$0.vcpus.count) })
        let sizes = Set(guests.dropFirst().map(\.vcpus.count))
        #expect(sizes.min() == 1 && sizes.max()! >= 6, "sizes \(sizes.sorted())")
        // Only the idle domain besides them (no placeholder for unplaced vCPUs).
        #expect(s.domains.map(\.domain).filter { $0 >= 2000 } == [32767])
        // Both kinds are there: HVM exits and PV hypercalls.
        #expect(!s.exits.isEmpty)
        #expect(guests.contains { !$0.hypercalls.isEmpty })
    }
}

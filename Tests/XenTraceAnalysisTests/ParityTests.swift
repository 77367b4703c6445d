import Foundation
import Testing
import XenTraceAnalysis

/// XenScope's summary equals xenalyze's for every figure both print, on the
/// real samples (docs/xenalyze-parity.md lists what differs and why).
@Suite struct SampleParityTests {
    @Test(arguments: ["xen-4.x-public.xentrace", "xen-4.17-qemu-all-dom0-pvdomU-load.xentrace",
                      "xen-4.17-qemu-sched-dom0-pvhdomU.xentrace", "xen-4.17-qemu-arm64-sched-dom0-load.xentrace"])
    func sameFiguresAsXenalyze(_ name: String) throws {
        let path = samplePath(name)
        let xa = XenalyzeSummary(try runXenalyze(path))
        #expect(!xa.vcpus.isEmpty, "parsed no vCPUs from xenalyze's output")
        #expect(xa.vcpus.values.reduce(0) { $0 + $1.runstates.count } >= 8, "too few runstate figures parsed")
        #expect(!xa.volume.isEmpty && !xa.totalSeconds.isEmpty)
        let ours = try Summarizer.summarize(path: path)
        let diffs = parityDifferences(ours, xa)
        #expect(diffs.isEmpty, "\(diffs.count) difference(s): \(diffs.prefix(30).joined(separator: "; "))")
    }

    @Test func publicSampleFigures() throws {
        let s = try Summarizer.summarize(path: samplePath("xen-4.x-public.xentrace"))
        #expect(s.records == 180_680)
        #expect(s.cpuChangeRecords == 187)
        #expect(s.pcpus.map(\.records) == [46_918, 6_840, 37_770, 4_649, 23_867, 10_862, 41_077, 8_697])
        #expect(s.hvmFlavour == "vmx")
        let d14 = try #require(s.domains.first { $0.domain == 14 })
        let v0 = try #require(d14.vcpus.first { $0.vcpu == 0 })
        let hlt = try #require(v0.exits.first { $0.reason == 12 })
        #expect(hlt.stats.events == 83)
        #expect(hlt.stats.meanCycles == 94_721_071)
        #expect(s.top.first?.domain == 14)
        #expect(s.anomalies.allSatisfy { $0.kind == "no-current-vcpu" })
    }

    @Test func arm64SampleHasNoX86Sections() throws {
        let s = try Summarizer.summarize(path: samplePath("xen-4.17-qemu-arm64-sched-dom0-load.xentrace"))
        #expect(s.hvmFlavour == nil)
        #expect(s.exits.isEmpty)
        let text = SummaryText.render(s)
        #expect(!text.contains("HVM exits"))
        #expect(!text.contains("PV:"))
        #expect(!text.contains("Power"))
        #expect(text.contains("xenalyze's default 2.400 GHz"))
    }
}

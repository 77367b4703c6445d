import Testing
import XenTrace

/// Exact figures for the real Xen 4.x sample (samples/xen-4.x-public.xentrace),
/// counted independently with a Python one-off and stated in issue 3.
@Suite struct SampleCountsTests {
    @Test func publicSampleFigures() throws {
        let trace = try TraceFile(path: samplePath("xen-4.x-public.xentrace"))
        let info = TraceInfo(trace)
        #expect(info.diagnostics.isEmpty)
        #expect(info.totalRecords == 180_680)
        #expect(info.cpuChangeRecords == 187)
        #expect(info.cpus.map(\.records) == [46_918, 6_840, 37_770, 4_649, 23_867, 10_862, 41_077, 8_697])
        #expect(info.eventCounts.count == 44)
        #expect(info.cpus.reduce(0) { $0 + $1.wrapRecords } == 27)
        #expect(info.eventCounts[0x0002_220c] == 15_074)
        #expect(info.eventCounts[0x0008_1001] == 5_873)
        #expect(info.eventCounts[0x0001_f003] == 187)
    }
}

import Testing
import XenTrace

/// The trace the lab captured with Xen's buffers overflowing
/// (samples/xen-4.17-qemu-all-lost-dom0-pvdomU-load.xentrace, provenance in
/// samples/README.md). Figures were cross-checked at capture time against
/// Debian's xentrace_format (per-CPU counts) and xenalyze (lost records).
@Suite struct LabSampleTests {
    @Test func lostRecordsSampleFigures() throws {
        let info = TraceInfo(try TraceFile(path: samplePath("xen-4.17-qemu-all-lost-dom0-pvdomU-load.xentrace")))
        #expect(info.diagnostics.isEmpty)
        #expect(info.totalRecords == 30_581)
        #expect(info.cpus.map(\.records) == [15_775, 14_806])
        #expect(info.cpuChangeRecords == 38)
        #expect(info.eventCounts.count == 34)
        #expect(info.cpus.map(\.lostRecordEvents) == [2, 1])
        #expect(info.cpus.map(\.lostRecords) == [2_079, 1_928])
        #expect(info.cpus.map(\.wrapRecords) == [7, 7])
        #expect(info.cpus.map(\.bytes) == [324_412, 298_096])
    }
}

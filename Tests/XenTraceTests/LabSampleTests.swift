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

    /// Why cpu1's records stop 499,438,018 cycles before cpu0's (docs/lab.md,
    /// "Where a CPU's records stop early"): its last window is a completely
    /// full ring (8 pages of 4,096 bytes less the 8-byte cons/prod header), so
    /// Xen was dropping its records when xentrace made its final pass, and
    /// xentrace then disabled tracing, which zeroes Xen's pending per-CPU
    /// lost-record count before a TRC_LOST_RECORDS record could report it.
    @Test func lostSampleCPU1EndsInAFullRing() throws {
        let trace = try TraceFile(path: samplePath("xen-4.17-qemu-all-lost-dom0-pvdomU-load.xentrace"))
        var windows: [(offset: Int, cpu: UInt32, bytes: UInt32)] = []
        var lastTSC: [UInt32: UInt64] = [:]
        var firstAfterWindow: [Int: (event: UInt32, lost: UInt32)] = [:]
        var open: Int?
        let diagnostics = trace.forEachRecord { r in
            if r.event == EventID.cpuChange {
                windows.append((r.offset, r.extra.w0, r.extra.w1)); open = r.offset
            } else {
                if let o = open { firstAfterWindow[o] = (r.event, r.extra.w0); open = nil }
                if r.hasTSC { lastTSC[windows.last!.cpu] = r.tsc }
            }
            return true
        }
        #expect(diagnostics.isEmpty)
        let last1 = try #require(windows.last { $0.cpu == 1 })
        #expect(last1.offset == 589_736 && last1.bytes == 8 * 4096 - 8)
        #expect(windows.last?.offset == last1.offset)
        #expect(firstAfterWindow[last1.offset]?.event == 0x0001_f001 && firstAfterWindow[last1.offset]?.lost == 1_928)
        #expect(lastTSC[1] == 998_845_041_124 && lastTSC[0] == 999_344_479_142)
        // No other window of either CPU is a full ring.
        #expect(windows.filter { $0.bytes == 8 * 4096 - 8 }.map(\.offset) == [589_736])
    }

    /// A scheduler trace from the lab's self-built hypervisor (samples/README.md).
    @Test func selfBuiltSchedSampleFigures() throws {
        let info = TraceInfo(try TraceFile(path: samplePath("xen-4.17.5-selfbuilt-qemu-sched-dom0-pvdomU.xentrace")))
        #expect(info.diagnostics.isEmpty)
        #expect(info.totalRecords == 5_180)
        #expect(info.cpus.map(\.records) == [2_121, 3_059])
        #expect(info.cpuChangeRecords == 42)
        #expect(info.eventCounts.count == 25)
        #expect(info.cpus.map(\.lostRecords) == [0, 0])
        #expect(info.cpus.map(\.wrapRecords) == [1, 1])
        #expect(info.cpus.map(\.bytes) == [49_296, 69_884])
        #expect(info.cpus.map(\.firstTSC) == [619_563_829_847, 619_558_050_645])
        #expect(info.cpus.map(\.lastTSC) == [629_852_907_165, 630_007_600_717])
    }
}

import Foundation
import LabTestSupport
import Testing
import XenTrace

/// Scenario "traces": files written in dom0 of a real Xen 4.17 (under QEMU)
/// by Xen's own xentrace, checked against Debian's own tools.
@Suite struct LabTraceTests {
    /// Every xentrace capture decodes with no diagnostics, on the two pCPUs
    /// `xl info` reported, and its CPU-change blocks tile the file exactly.
    @Test func xentraceFilesDecodeAndBlocksCoverTheFile() throws {
        let lab = try LabResults.ci()
        #expect(try lab.text("results/xl-info.txt").contains(#/nr_cpus\s+:\s+2\n/#))
        try expectXentraceCapturesDecode(lab)
    }

    /// Per-CPU record counts equal those of Debian's xentrace_format (every
    /// record printed through the catch-all definition, CPU-change records
    /// attributed to the CPU they announce, as ours are).
    @Test func perCPURecordCountsMatchXentraceFormat() throws {
        try expectPerCPURecordCountsMatchXentraceFormat(try LabResults.ci().traces(suffix: ".xentrace"))
    }

    /// The capture that polls only every 3 s makes Xen drop records. Every
    /// TRC_LOST_RECORDS record is seen by xenalyze too, with the same counts.
    @Test func lostRecordsAreAccountedLikeXenalyze() throws {
        let lab = try LabResults.ci()
        let f = lab.dom0 + "/traces/lost.xentrace"
        let info = TraceInfo(try TraceFile(path: f))
        let events = info.cpus.reduce(0) { $0 + $1.lostRecordEvents }
        let lost = info.cpus.reduce(UInt64(0)) { $0 + $1.lostRecords }
        #expect(events > 0, "the lost capture has no TRC_LOST_RECORDS: the scenario did not overflow Xen's buffers")
        #expect(lost >= UInt64(events))
        let dump = try run(Peers.xenalyze, ["--dump-all", f])
        var theirEvents = 0, theirLost: UInt64 = 0
        let re = try NSRegularExpression(pattern: #"lost_records count (\d+)"#)
        for m in re.matches(in: dump, range: NSRange(dump.startIndex..., in: dump)) {
            theirEvents += 1
            theirLost += UInt64(dump[Range(m.range(at: 1), in: dump)!])!
        }
        #expect(theirEvents == events && theirLost == lost,
                "ours \(events) events / \(lost) lost, xenalyze \(theirEvents) / \(theirLost)")
    }

    /// Our own release binary ran inside dom0 (with the Swift runtime carried
    /// in the initramfs) and printed the same per-CPU figures there.
    @Test func xenscopeRanInDom0WithTheSameFigures() throws {
        let lab = try LabResults.ci()
        for f in try lab.traces(suffix: ".xentrace") {
            let text = try String(contentsOfFile: f + ".info-dom0.txt", encoding: .utf8)
            let info = TraceInfo(try TraceFile(path: f))
            #expect(text.contains(" \(info.totalRecords) records,"), "\(f): dom0 said \(text.prefix(200))")
            for c in info.cpus {
                let row = try #require(text.split(separator: "\n").first { $0.split(separator: " ").first == "\(c.cpu)" })
                let cols = row.split(separator: " ").map(String.init)
                #expect(cols.count >= 2 && cols[1] == "\(c.records)", "\(f) cpu \(c.cpu): dom0 row \(row)")
                #expect(cols.contains("\(c.firstTSC)") && cols.contains("\(c.lastTSC)") && cols.contains("\(c.bytes)"))
            }
        }
    }
}

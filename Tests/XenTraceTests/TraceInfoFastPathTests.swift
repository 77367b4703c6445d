import Foundation
import Testing
@testable import XenTrace

/// `trace info`'s counting fast path (one loop per window, event table
/// through buffer pointers, figures added per window) against exact values,
/// where its table must grow mid-window and lost/wrap records sit inside
/// windows; and against the record-by-record path (TSC order) on that file.
@Suite struct TraceInfoFastPathTests {
    @Test func manyEventIdsGrowTheTableMidWindow() throws {
        var w = TraceWriter()
        // CPU 1: 600 distinct event ids (the table starts at 256 slots and
        // grows past 128), each three times, TSC rising; one lost-records
        // record (5 lost) and one wrap record inside the window.
        var recs: [TraceRecord] = []
        var tsc: UInt64 = 1000
        for round in 0 ..< 3 {
            for e in 0 ..< 600 as Range<UInt32> {
                tsc += 7
                recs.append(TraceRecord(cpu: 1, event: 0x0002_0000 | e, tsc: tsc, extra: [e, UInt32(round)]))
            }
        }
        recs.insert(TraceRecord(cpu: 1, event: EventID.lostRecords, tsc: nil, extra: [5, 0, 0, 0]), at: 700)
        recs.insert(TraceRecord(cpu: 1, event: EventID.wrapBuffer, tsc: nil, extra: []), at: 900)
        w.appendWindow(cpu: 1, records: recs)
        // CPU 0: records without TSC only.
        w.appendWindow(cpu: 0, records: (0 ..< 10).map { TraceRecord(cpu: 0, event: 0x0001_1001, tsc: nil, extra: [$0]) })
        let dir = NSTemporaryDirectory() + "info-fast-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/many.xentrace"
        try Data(w.bytes).write(to: URL(fileURLWithPath: path))

        let fast = try TraceInfo(TraceInput.open(path), order: .file)
        #expect(fast.diagnostics.isEmpty)
        #expect(fast.cpus.map(\.cpu) == [0, 1])
        let c1 = fast.cpus[1], c0 = fast.cpus[0]
        #expect(c1.records == 1 + 1800 + 2)
        // 1800 records of 4 + 8 + 8 bytes, lost-records 4 + 16, wrap 4, the CPU-change record 12.
        #expect(c1.bytes == 1800 * 20 + 20 + 4 + 12)
        #expect(c1.firstTSC == 1007 && c1.lastTSC == 1000 + 1800 * 7)
        #expect(c1.lostRecordEvents == 1 && c1.lostRecords == 5 && c1.wrapRecords == 1 && c1.cpuChangeRecords == 1)
        #expect(c0.records == 11 && c0.bytes == 10 * 8 + 12 && c0.firstTSC == 0 && c0.lastTSC == 0)
        #expect(fast.eventCounts.count == 600 + 4)
        #expect((0 ..< 600 as Range<UInt32>).allSatisfy { fast.eventCounts[0x0002_0000 | $0] == 3 })
        #expect(fast.eventCounts[0x0001_1001] == 10 && fast.eventCounts[EventID.cpuChange] == 2)
        #expect(fast.eventCounts[EventID.lostRecords] == 1 && fast.eventCounts[EventID.wrapBuffer] == 1)

        let slow = try TraceInfo(TraceInput.open(path), order: .tsc)
        #expect(slow.cpus == fast.cpus && slow.eventCounts == fast.eventCounts)
    }
}

import Collector
import Foundation
import Testing
import TraceRing
import XenTrace

/// The Collector library without processes: a region, a Swift producer, one run.
@Suite struct InProcessCollectorTests {
    func runOnce(discard: Bool) throws -> (CollectorStats, [TraceRecord]) {
        let name = "/dev/shm/xenscope-inproc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let region = try SharedRegion.create(path: name, cpus: 2, pages: 1)
        defer { region.unlinkFile() }
        region.setEnabled(true)
        let p = try region.makeProducer()
        for i in 0..<10 { p.event(cpu: UInt32(i % 2), 0x0008_1002, [UInt32(i), 7]) }   // old data
        let file = NSTemporaryDirectory() + "xenscope-inproc-\(UUID().uuidString).trace"
        defer { unlink(file) }
        var options = CollectorOptions()
        options.discardOld = discard
        options.closeGraceSeconds = 0.05
        let collector = Collector(backend: try SharedMemoryBackend(name: name, pages: 1), sink: try TraceFileSink(path: file), options: options)
        var asked = 0
        let stats = try collector.run(stopRequested: {
            asked += 1
            if asked == 1 { p.event(cpu: 1, 0x0008_1001, [99]) }   // new data after start
            return asked == 2 ? "test stop" : nil
        }, progress: { _ in })
        let (records, diags) = try readRecords(file)
        #expect(diags.isEmpty)
        return (stats, records)
    }

    func readRecords(_ path: String) throws -> ([TraceRecord], [TraceDiagnostic]) {
        var out: [TraceRecord] = []
        let d = try TraceInput.open(path).forEachRecord(order: .file) { out.append($0); return true }
        return (out, d)
    }

    @Test func keepsWhatTheRingsHeldUnlessToldToDiscardIt() throws {
        let (kept, all) = try runOnce(discard: false)
        #expect(kept.records == 11 && kept.lost == 0)
        #expect(kept.stopReason == "test stop")
        #expect(all.filter { $0.event != EventID.cpuChange }.map(\.extra.w0) == [0, 2, 4, 6, 8, 1, 3, 5, 7, 9, 99])
        #expect(kept.warnings.count == 2)   // neither ring was closed by a producer
        let (fresh, only) = try runOnce(discard: true)
        #expect(fresh.records == 1)
        #expect(only.filter { $0.event != EventID.cpuChange }.map(\.extra.w0) == [99])
        #expect(only.first?.event == EventID.cpuChange && only.first?.extra.w0 == 1 && only.first?.extra.w1 == 16)
    }
}

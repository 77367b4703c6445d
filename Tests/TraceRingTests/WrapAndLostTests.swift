import CTraceBuffer
import Testing
import TraceRing
import XenTrace

/// Wrap padding and lost-record accounting, byte for byte.
/// One-page rings: data_size = 4096 − 8 = 4088 bytes.
@Suite struct WrapAndLostTests {
    let seven: [UInt32] = [1, 2, 3, 4, 5, 6, 7]   // 40-byte records with TSC

    @Test func eightBytesBeforeTheEndBecomeAWrapRecord() throws {
        try withProducer(cpus: 1, clock: 100) { region, p in
            let ring = region.rings[0]
            for _ in 0..<102 { #expect(p.event(cpu: 0, 0x0800_f001, seven) == .written) }   // 4080 bytes
            ring.release(try #require(try ring.window()))
            #expect(p.event(cpu: 0, 0x0800_f001, [9, 9, 9, 9, 9, 9, 9]) == .written)
            let w = try #require(try ring.window())
            #expect((w.cons, w.prod) == (4080, 4080 + 8 + 40))
            #expect(w.first.count == 8 && w.second.count == 40)
            // Wrap: header with one extra word, payload left as it was (never written: 0).
            #expect(w.bytes == le([0x1001_f002, 0]) + le([0xF800_f001, 202, 0, 9, 9, 9, 9, 9, 9, 9]))
            let (recs, diags) = scan(fileBytes([w]))
            #expect(diags.isEmpty)
            #expect(recs.map(\.event) == [0x1f003, 0x1f002, 0x800f001])
        }
    }

    @Test func thirtySixBytesNeedATSCInTheWrapRecord() throws {
        try withProducer(cpus: 1, clock: 500) { region, p in
            let ring = region.rings[0]
            for _ in 0..<101 { p.event(cpu: 0, 0x0800_f001, seven) }                  // 4040
            #expect(p.event(cpu: 0, 0x0800_f002) == .written)                          // +12 = 4052
            ring.release(try #require(try ring.window()))
            #expect(p.event(cpu: 0, 0x0800_f003, seven) == .written)
            let w = try #require(try ring.window())
            #expect(w.first.count == 36)
            // 36 bytes = header + TSC + 6 words: 8 words would exceed the 7-word limit.
            let wrapHead = Array(w.bytes[0..<12])
            #expect(wrapHead == le([0xE001_f002, 602, 0]))
            #expect(Array(w.bytes[36...]) == le([0xF800_f003, 602, 0] + seven))
            let (recs, diags) = scan(fileBytes([w]))
            #expect(diags.isEmpty)
            #expect(recs.map(\.size) == [12, 36, 40])
        }
    }

    @Test func lostRecordsAreCountedAndReportedBeforeTheNextRecordThatFits() throws {
        try withProducer(cpus: 2, clock: 0x2_0000_0000) { region, p in
            p.setCurrent(cpu: 1, domain: 3, vcpu: 2)
            let ring = region.rings[1]
            for _ in 0..<102 { #expect(p.event(cpu: 1, 0x0800_f001, seven) == .written) }  // 8 bytes free
            #expect(p.event(cpu: 1, 0x0800_f001, seven) == .lost)          // first lost: clock 0x2_0000_0066
            #expect(p.event(cpu: 1, 0x0800_f001, [], tsc: false) == .lost) // even 4 bytes do not fit
            #expect(p.event(cpu: 1, 0x0800_f001, seven) == .lost)
            #expect(p.counts(cpu: 1) == (102, 3, 3))
            ring.release(try #require(try ring.window()))
            // The next record: 8 bytes to the end < 28 → wrap, LOST at 0, then the record.
            #expect(p.event(cpu: 1, 0x0800_f00a, [42]) == .written)
            let w = try #require(try ring.window())
            let tsc: UInt32 = 0x67
            #expect(w.bytes == le([0x1001_f002, 0])
                    + le([0xC001_f001, tsc, 2, 3, 0x0002_0003, 0x66, 2])
                    + le([0x9800_f00a, tsc, 2, 42]))
            #expect(p.counts(cpu: 1) == (103, 3, 0))
            let t = w.tally()
            #expect(t.records == 2 && t.lost == 3 && !t.damaged)
            let (recs, diags) = scan(fileBytes([w]))
            #expect(diags.isEmpty)
            #expect(recs.map(\.event) == [0x1f003, 0x1f002, 0x1f001, 0x800f00a])
            #expect(recs[2].extra.w0 == 3 && recs[2].tsc == 0x2_0000_0067)
        }
    }

    @Test func lostRecordExactlyAtTheRingEndLeavesNoPadding() throws {
        // 28 bytes left: the LOST record ends exactly at the end, the record starts at 0.
        try withProducer(cpus: 1, clock: 7) { region, p in
            let ring = region.rings[0]
            for _ in 0..<101 { p.event(cpu: 0, 0x0800_f001, seven) }          // 4040
            #expect(p.event(cpu: 0, 0x0800_f001, [1, 2]) == .written)        // +20 = 4060; 28 left
            #expect(p.event(cpu: 0, 0x0800_f001, seven) == .lost)            // first lost at tick 109
            ring.release(try #require(try ring.window()))
            #expect(p.event(cpu: 0, 0x0800_f002, [5]) == .written)           // tick 110
            let w = try #require(try ring.window())
            #expect((w.cons, w.prod) == (4060, 4060 + 28 + 16))
            #expect(w.first.count == 28 && w.second.count == 16)
            #expect(w.bytes == le([0xC001_f001, 110, 0, 1, 0x7fff, 109, 0]) + le([0x9800_f002, 110, 0, 5]))
            let (recs, diags) = scan(fileBytes([w]))
            #expect(diags.isEmpty)
            #expect(recs.map(\.event) == [0x1f003, 0x1f001, 0x800f002])
        }
    }

    @Test func closeFlushesThePendingLostCount() throws {
        let region = try makeRegion(cpus: 1, pages: 1)
        let p = try region.makeProducer()
        region.setEnabled(true)
        let ring = region.rings[0]
        var written = 0, lost = 0
        while written + lost < 200 {
            switch p.event(cpu: 0, 0x0800_f001, seven) {
            case .written: written += 1
            case .lost: lost += 1
            default: Issue.record("unexpected result")
            }
        }
        #expect(written == 102 && lost == 98)
        region.setEnabled(false)                             // the collector stops tracing
        #expect(p.event(cpu: 0, 0x0800_f001) == .disabled)   // not counted, as in Xen
        #expect(p.close(cpu: 0) == .again)                   // no room for the LOST record yet
        #expect(!region.isClosed(cpu: 0))
        let w1 = try #require(try ring.window())
        #expect(w1.tally().records == 102)
        ring.release(w1)
        #expect(p.close(cpu: 0) == .written)
        #expect(region.isClosed(cpu: 0))
        let w2 = try #require(try ring.window())
        #expect(w2.count == 8 + 28)
        #expect(w2.tally().lost == 98)
        #expect(p.counts(cpu: 0) == (102, 98, 0))
    }

    @Test func impossibleConsumerOffsetsAreRefused() throws {
        let region = try makeRegion(cpus: 1, pages: 1)
        let p = try region.makeProducer()
        region.setEnabled(true)
        p.event(cpu: 0, 0x0800_f001)
        let ring = region.rings[0]
        // A consumer that publishes a bogus cons: the producer refuses and counts the loss.
        let w = try #require(try ring.window())
        let bogus = RingWindowForge.window(w, prod: 3)
        ring.release(bogus)
        #expect(p.event(cpu: 0, 0x0800_f001) == .corrupt)
        #expect(p.counts(cpu: 0).lost == 1)
        #expect(throws: TraceRingError("CPU 0: consumer offset 3 is not a multiple of 4 below 8176")) { try ring.window() }
    }
}

/// Builds a window with a chosen prod, to publish a deliberately bad cons.
enum RingWindowForge {
    static func window(_ w: RingWindow, prod: UInt32) -> RingWindow {
        RingWindow(cpu: w.cpu, cons: w.cons, prod: prod, first: w.first, second: w.second)
    }
}

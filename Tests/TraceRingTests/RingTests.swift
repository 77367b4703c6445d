import CTraceBuffer
import Testing
import TraceRing
import XenTrace

/// The C ring against the documented layout and the reader: exact bytes.
@Suite struct RingLayoutTests {
    @Test func regionSizes() {
        // 2 CPUs × 1 page: t_info = 2 header words + 2 MFN words → 1 page.
        #expect(trace_tinfo_first_offset(2) == 2)
        #expect(trace_region_size(2, 1) == 4 * 4096)
        // 256 CPUs × 32 pages: ceil(514/4) = 129 words + 8192 MFNs = 33,284 bytes → 9 pages.
        #expect(trace_tinfo_first_offset(256) == 129)
        #expect(trace_tinfo_pages(256, 32) == 9)
        #expect(trace_region_size(256, 32) == (1 + 9 + 8192) * 4096)
        #expect(trace_region_size(0, 1) == 0)
        #expect(trace_region_size(257, 1) == 0)
        #expect(trace_region_size(2, 0) == 0)
    }

    @Test func tInfoBytesAreXensLayout() throws {
        let region = try makeRegion(cpus: 3, pages: 2)
        #expect(region.rings.map(\.cpu) == [0, 1, 2])
        #expect(region.rings.map(\.dataSize) == [8184, 8184, 8184])
        // first_offset = ceil((2 + 6) / 4) = 2; lists at words 2, 4, 6; rings from page 2.
        let tinfo = region.tinfoBytes
        #expect(Array(tinfo.prefix(8)) == [2, 0, 2, 0, 4, 0, 6, 0])
        #expect(Array(tinfo[8..<32]) == le([2, 3, 4, 5, 6, 7]))
        let layout = try TInfoLayout(tinfo, cpuCount: 3, name: "t")
        #expect(layout.pagesPerCPU == 2)
        #expect(layout.rings.map(\.frames) == [[2, 3], [4, 5], [6, 7]])
    }

    @Test func tInfoRejectsListsOutsideIt() throws {
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes[0] = 4          // 4 pages per ring
        bytes[2] = 15         // CPU 0's list at word 15: words 15..18 end at byte 76 > 64
        #expect(throws: TraceRingError.self) {
            try bytes.withUnsafeBytes { try TInfoLayout($0, cpuCount: 1, name: "t") }
        }
        bytes[0] = 0
        #expect(throws: TraceRingError("t: t_info says rings have 0 pages (trace buffers not allocated)")) {
            try bytes.withUnsafeBytes { try TInfoLayout($0, cpuCount: 1, name: "t") }
        }
    }
}

@Suite struct RingRecordTests {
    @Test func recordWithTSCAndWords() throws {
        try withProducer(cpus: 2, clock: 0x1_0000_0010, enable: false) { region, p in
            #expect(p.event(cpu: 1, 0x0008_1002, [7, 8]) == .disabled)
            region.setEnabled(true)
            #expect(p.event(cpu: 1, 0x0008_1002, [7, 8]) == .written)
            #expect(p.event(cpu: 1, 0x0008_2013, [1], tsc: false) == .written)
            #expect(try region.rings[0].window() == nil)
            let w = try #require(try region.rings[1].window())
            #expect(w.bytes == le([0xA008_1002, 0x0000_0010, 0x1, 7, 8, 0x1008_2013, 1]))
            #expect((w.cons, w.prod) == (0, 28))
            let (recs, diags) = scan(fileBytes([w]))
            #expect(diags.isEmpty)
            #expect(recs.map(\.event) == [0x1f003, 0x81002, 0x82013])
            #expect(recs.map(\.cpu) == [1, 1, 1])
            #expect(recs[1].tsc == 0x1_0000_0010 && recs[2].tsc == 0x1_0000_0010)
            region.rings[1].release(w)
            #expect(try region.rings[1].window() == nil)
            #expect(region.rings[1].positions == (28, 28))
        }
    }

    // (The variadic forms are C-only; the producer program uses them.)
    @Test func badArgumentsAreRefused() throws {
        let region = try makeRegion(cpus: 1, pages: 1)
        let p = try region.makeProducer()
        region.setEnabled(true)
        let ctx = p.context
        let words: [UInt32] = [5, 6, 7, 8, 9, 10, 11, 12]
        #expect(trace_event_words_notsc(ctx, 0, 0x0080_2008, 3, words) == 0)
        #expect(trace_event_words_notsc(ctx, 0, 0x0080_2008, 8, words) == TB_EINVAL.rawValue)
        #expect(trace_event_words(ctx, 1, 0x0080_2008, 0, nil) == TB_EINVAL.rawValue)
        let two: [UInt32] = [10, 11]
        #expect(two.withUnsafeBufferPointer { p.event(cpu: 0, 0x0080_2001, words: $0, tsc: false) } == .written)
        let w = try #require(try region.rings[0].window())
        #expect(w.bytes == le([0x3080_2008, 5, 6, 7, 0x2080_2001, 10, 11]))
    }

    @Test func maskingFollowsXen() throws {
        let region = try makeRegion(cpus: 2, pages: 1)
        let p = try region.makeProducer()
        region.setEnabled(true)
        region.setEventMask(0x0008_f000)                       // all HVM subclasses
        #expect(p.event(cpu: 0, 0x0008_1001) == .written)
        #expect(p.event(cpu: 0, 0x0008_2001, tsc: false) == .written)
        #expect(p.event(cpu: 0, 0x0002_1011, [1]) == .filtered)  // scheduler class
        region.setEventMask(0x0008_1000)                       // HVM entry/exit only
        #expect(p.event(cpu: 0, 0x0008_2001) == .filtered)
        #expect(p.event(cpu: 0, 0x0008_1002, [1, 2]) == .written)
        region.setEventMask(0x0fff_f000)                       // TRC_ALL
        #expect(p.event(cpu: 0, 0x0002_0001) == .filtered)     // subclass 0 never matches
        region.setCPUs([1])
        #expect(p.event(cpu: 0, 0x0008_1001) == .filtered)
        #expect(p.event(cpu: 1, 0x0008_1001) == .written)
        let w0 = try #require(try region.rings[0].window())
        #expect(w0.tally().records == 3)
        // The C rule and XenTrace's EventID.matches agree everywhere we look.
        let masks: [UInt32] = [0x0fff_f000, 0x0008_f000, 0x0008_1000, 0x0002_f000, 0x0001_f000, 0x0000_1000, 0x0800_f000, 0x0002_8000, 0xffff_ffff, 0]
        let events: [UInt32] = [0x1f001, 0x21011, 0x22201, 0x28004, 0x81002, 0x82013, 0x84001, 0x201004, 0x802008, 0x800f00f, 0x20001, 0x1001]
        for m in masks { for e in events { #expect((trace_event_matches(e, m) != 0) == EventID.matches(e, mask: m), "mask \(m) event \(e)") } }
    }
}


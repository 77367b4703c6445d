import Foundation
import Testing
import XenTrace
@testable import XenTraceFormats

@Suite struct CatalogueTests {
    @Test func shippedFormatsFileIsGeneratedFromCatalogue() throws {
        let shipped = try String(contentsOf: repoRoot().appendingPathComponent("formats/xenscope.formats"), encoding: .utf8)
        #expect(shipped == FormatsGenerator.text(), "run `xenscope trace formats > formats/xenscope.formats`")
        let parsed = try FormatsFile(text: shipped, path: "xenscope.formats")
        #expect(parsed.definitions.count == EventCatalogue.shared.events.count + 1)
        for d in parsed.definitions.values { #expect(d.format.outcome == .ok) }
    }

    @Test func catalogueFacts() throws {
        let c = EventCatalogue.shared
        #expect(Set(c.events.map(\.id)).count == c.events.count)
        #expect(Set(c.events.map(\.name)).count == c.events.count)
        // credit2 numbering from credit2.c, not Xen 4.18's formats file.
        #expect(c.spec(for: 0x0002_2213)?.name == "credit2:picked_cpu")
        #expect(c.spec(for: 0x0002_2217)?.name == "credit2:runq_cand_check")
        #expect(c.spec(for: 0x0002_2212) == nil)
        #expect(c.spec(for: 0x0800_f042)?.name == "guest:event")
        let switchSpec = try #require(c.spec(named: "sched:switch"))
        let r = TraceRecord(cpu: 0, event: 0x0002_800a, tsc: 5, extra: [0, 2, 32767, 0])
        #expect(EventCatalogue.mentions(domain: 32767, switchSpec, r))
        #expect(!EventCatalogue.mentions(domain: 1, switchSpec, r))
        let rs = TraceRecord(cpu: 0, event: 0x0002_1011, tsc: 5, extra: [0x0005_0003])
        var out = ByteSink()
        EventCatalogue.renderFields(c.spec(for: 0x0002_1011)!, rs, into: &out)
        #expect(String(decoding: out.bytes, as: UTF8.self) == " vcpu=3 dom=5")
        let hc = TraceRecord(cpu: 0, event: 0x0020_100d, tsc: 5, extra: [0x0050_0011, 7, 9])
        out.reset()
        EventCatalogue.renderFields(c.spec(for: 0x0020_100d)!, hc, into: &out)
        #expect(String(decoding: out.bytes, as: UTF8.self) == " op=17 args_present=0x5 arg=[0x7,0x9]")
        let lost = TraceRecord(cpu: 0, event: 0x0001_f001, tsc: 5, extra: [12, 0x0002_0001, 0x10, 0x1])
        out.reset()
        EventCatalogue.renderFields(c.spec(for: 0x0001_f001)!, lost, into: &out)
        #expect(String(decoding: out.bytes, as: UTF8.self) == " lost=12 dom=1 vcpu=2 first_tsc=4294967312")
    }

    @Test func eventSelectors() throws {
        #expect(try DecodeFilter.selector("sched") == .mask(0x0002_f000))
        #expect(try DecodeFilter.selector("0x0002f000") == .mask(0x0002_f000))
        #expect(try DecodeFilter.selector("0x0002800a") == .id(0x0002_800a))
        #expect(try DecodeFilter.selector("credit2") == .scheduler(1))
        #expect(try DecodeFilter.selector("hvm:vmexit") == .name("hvm:vmexit"))
        #expect(try DecodeFilter.selector("shadow:fixup") == .namePrefix("shadow:fixup"))
        #expect(throws: DecodeFilter.ParseError.self) { try DecodeFilter.selector("nonsense") }
        #expect(try DecodeFilter.cpuList("0,2,5-7") == [0, 2, 5, 6, 7])
        #expect(throws: DecodeFilter.ParseError.self) { try DecodeFilter.cpuList("3-1") }
        let sel = DecodeFilter.EventSelector.name("hvm:vmexit")
        #expect(sel.matches(0x0008_1102, "hvm:vmexit64"))
        #expect(!sel.matches(0x0008_1001, "hvm:vmentry"))
        #expect(!DecodeFilter.EventSelector.name("sched:switch").matches(0x0002_800e, "sched:switch_infprev"))
        #expect(DecodeFilter.EventSelector.namePrefix("shadow:fixup").matches(0x0040_f106, "shadow:fixup_pae"))
        #expect(DecodeFilter.EventSelector.scheduler(1).matches(0x0002_2215, ""))
        #expect(!DecodeFilter.EventSelector.scheduler(1).matches(0x0002_2015, ""))
    }

    /// Names on the real sample: every one of its 44 ids is in the catalogue.
    @Test func sampleEventsAreAllKnown() throws {
        let trace = try TraceFile(path: samplePath("xen-4.x-public.xentrace"))
        let info = TraceInfo(trace)
        let unknown = info.eventCounts.keys.filter { EventCatalogue.shared.spec(for: $0) == nil }.sorted()
        #expect(unknown.isEmpty, "unknown ids: \(unknown.map { String($0, radix: 16) })")
    }

    /// Which events exist on arm64: every id of the arm64 sample does; the
    /// x86 sample's HVM/PV/HW ids do not; `--arch arm64` lists only those.
    @Test func arm64EventsAreCommonCodeOnly() throws {
        for sample in ["xen-4.17-qemu-arm64-sched-dom0-load.xentrace", "xen-4.17-qemu-arm64-all-dom0-domU-load.xentrace",
                       "xen-4.17-qemu-arm64-sched-dom0-domU-load.xentrace"] {
            let arm = TraceInfo(try TraceFile(path: samplePath(sample)))
            #expect(arm.eventCounts.count >= 20, "\(sample)")
            for id in arm.eventCounts.keys {
                let spec = try #require(EventCatalogue.shared.spec(for: id), "\(sample): 0x\(String(id, radix: 16))")
                #expect(spec.exists(on: .arm64), "\(sample): \(spec.name)")
            }
        }
        let x86 = TraceInfo(try TraceFile(path: samplePath("xen-4.17-qemu-all-dom0-pvdomU-load.xentrace")))
        let x86Only = x86.eventCounts.keys.compactMap { EventCatalogue.shared.spec(for: $0) }.filter { !$0.exists(on: .arm64) }
        #expect(!x86Only.isEmpty)
        #expect(x86Only.allSatisfy { spec in ["pv:", "hvm", "pm:", "irq:", "shadow:"].contains { spec.name.hasPrefix($0) } }, "\(x86Only.map(\.name))")
        let events = EventCatalogue.shared.events
        #expect(events.filter { $0.exists(on: .arm64) }.count == 85)
        #expect(events.filter { $0.exists(on: .x86_64) }.count == events.count)
        for name in ["sched:switch", "mem:grant_map", "mem:decrease_reservation", "gen:lost_records", "credit2:tickle"] {
            #expect(EventCatalogue.shared.spec(named: name)?.exists(on: .arm64) == true, "\(name)")
        }
        for name in ["mem:set_p2m_entry", "mem:pod_populate", "pv:hypercall", "irq:handled", "pm:idle_entry"] {
            #expect(EventCatalogue.shared.spec(named: name)?.exists(on: .arm64) == false, "\(name)")
        }
        let text = FormatsGenerator.text(architecture: .arm64)
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("0x") }.count == 85 + 1)   // + the fallback line
        #expect(!text.contains("---- HVM") && text.contains("---- SCHED_MIN"))
    }
}

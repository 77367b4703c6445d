import Foundation
import Testing
@testable import XenTrace

/// `TraceSynthesizer` → reader round trip: every count the generator says it
/// wrote is what the reader finds, in both orders; and the simulated host is
/// consistent (a vCPU runs on one pCPU at a time).
@Suite struct SynthesizerTests {
    static func options(_ scheduler: TraceSynthesizer.Scheduler, size: Int = 3 << 20) -> TraceSynthesizer.Options {
        var o = TraceSynthesizer.Options()
        o.size = size
        o.cpus = 4
        o.domains = 16
        o.seed = 3
        o.scheduler = scheduler
        return o
    }

    @Test(arguments: TraceSynthesizer.Scheduler.allCases)
    func readerFindsExactlyWhatWasWritten(scheduler: TraceSynthesizer.Scheduler) throws {
        let dir = try makeTempDir("synth")
        defer { removeDir(dir) }
        let path = dir + "/synth.xentrace"
        let counts = try TraceSynthesizer(SynthesizerTests.options(scheduler)).write(toPath: path)
        #expect(counts.bytes >= 3 << 20)
        #expect(counts.lostRecordEvents > 0, "the collector stalls, so records are lost")
        #expect(counts.wrapRecords > 0)
        #expect(counts.events[SynthEvent.idleEntry, default: 0] > 0)
        #expect(counts.events[SynthEvent.vmexit64, default: 0] > 0)
        #expect(counts.events[SynthEvent.hypercallV2, default: 0] > 0)
        for order in RecordOrder.allCases {
            let info = try TraceInfo(try TraceInput.open(path), order: order)
            #expect(info.diagnostics.isEmpty, "\(order): \(info.diagnostics.prefix(3))")
            #expect(info.totalBytes == counts.bytes)
            #expect(info.totalRecords == counts.records)
            #expect(info.cpuChangeRecords == counts.windows)
            #expect(info.cpus.map(\.records) == counts.cpuRecords)
            #expect(info.eventCounts == counts.events)
            #expect(info.lostRecordEvents == counts.lostRecordEvents)
            #expect(info.lostRecords == UInt64(counts.lostRecords))
            #expect(info.wrapRecords == counts.wrapRecords)
            #expect(info.firstTSC == counts.firstTSC)
            #expect(info.lastTSC == counts.lastTSC)
        }
    }

    @Test func sameOptionsSameBytes() throws {
        var a: [UInt8] = [], b: [UInt8] = []
        let o = SynthesizerTests.options(.credit2, size: 1 << 20)
        let ca = TraceSynthesizer(o).generate { a.append(contentsOf: $0) }
        let cb = TraceSynthesizer(o).generate { b.append(contentsOf: $0) }
        #expect(ca == cb)
        #expect(a == b)
        var o2 = o
        o2.seed = 4
        var c: [UInt8] = []
        _ = TraceSynthesizer(o2).generate { c.append(contentsOf: $0) }
        #expect(a != c)
    }

    @Test func aVCPURunsOnOnePCPUAtATime() throws {
        var bytes: [UInt8] = []
        var o = SynthesizerTests.options(.credit2)
        o.collectorStalls = false   // lost records could hide a switch
        let counts = TraceSynthesizer(o).generate { bytes.append(contentsOf: $0) }
        #expect(counts.lostRecordEvents == 0)
        let dir = try makeTempDir("synth-vcpu")
        defer { removeDir(dir) }
        try writeFile(dir + "/t", bytes)
        var runningOn: [UInt32: UInt32] = [:]   // dom<<16|vcpu → pCPU
        var starts = 0, conflicts = 0, lastTSC: UInt64 = 0, backwards = 0
        try TraceInput.open(dir + "/t").forEachRecord(order: .tsc) { r in
            if r.tsc < lastTSC { backwards += 1 }
            lastTSC = r.tsc
            let who = r.extra.w0
            guard who >> 16 != SynthEvent.idleDomain else { return true }
            switch r.event {
            case SynthEvent.runstate | 1 << 8:            // runnable → running
                if runningOn[who] != nil { conflicts += 1 }
                runningOn[who] = r.cpu
                starts += 1
            case SynthEvent.runstate | 1 << 4, SynthEvent.runstate | 2 << 4:   // running → runnable/blocked
                if runningOn[who] != r.cpu { conflicts += 1 }
                runningOn[who] = nil
            default: break
            }
            return true
        }
        #expect(backwards == 0)
        #expect(starts > 1000)
        #expect(conflicts == 0)
    }

    /// `--vcpus N`: the per-domain counts add up to exactly N, dom0 has one
    /// per pCPU up to 4, each guest 1...128, and they vary around the mean.
    @Test func vcpuTotalIsSpreadExactly() {
        for (domains, cpus, total) in [(1, 8, 5), (2, 4, 2), (3, 2, 200), (2000, 8, 8000), (17, 16, 100), (2000, 8, 2000)] {
            var rng = SynthRandom(seed: 7)
            let n = Simulation.spread(total: total, domains: domains, cpus: cpus, &rng)
            #expect(n.count == domains)
            #expect(n.reduce(0, +) == total, "\(domains) domains, \(total) vCPUs: \(n.prefix(8))")
            #expect(n.allSatisfy { (1...128).contains($0) })
            // dom0 keeps one vCPU per pCPU up to 4 unless the guests are full (3 domains, 200 vCPUs).
            if domains > 3 { #expect(n[0] == max(1, min(4, cpus, total - (domains - 1)))) }
        }
        // Up to 128 per domain, dom0 included, the spread still ends exactly.
        var full = SynthRandom(seed: 3)
        #expect(Simulation.spread(total: 384, domains: 3, cpus: 2, &full) == [128, 128, 128])
        var rng = SynthRandom(seed: 1)
        let n = Simulation.spread(total: 8000, domains: 2000, cpus: 8, &rng)
        // Drawn from 1...7 around the mean of 4, then nudged up to the exact total.
        #expect(n.dropFirst().min() == 1 && (8...10).contains(n.dropFirst().max()!), "\(Set(n.dropFirst()).sorted())")
    }
}

import Foundation
import Testing
import XenTrace
@testable import XenTraceAnalysis

/// The summary's two-core path (`threads: 2`) must give exactly what the
/// one-thread path gives: same text, same JSON, byte for byte, on the real
/// samples and on generated traces with lost records, wrap records and
/// out-of-order (TSC going backwards) input.
@Suite struct ParallelIdentityTests {
    /// Text and JSON of the summary of `bytes` with the given thread count.
    func outputs(_ bytes: [UInt8], threads: Int) throws -> (String, String) {
        var o = SummaryOptions()
        o.threads = threads
        let s = bytes.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "t", options: o) }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (SummaryText.render(s), String(decoding: try e.encode(s), as: UTF8.self))
    }

    func expectIdentical(_ bytes: [UInt8], _ what: String) throws {
        let (t1, j1) = try outputs(bytes, threads: 1)
        let (t2, j2) = try outputs(bytes, threads: 2)
        #expect(t1 == t2, "text differs between 1 and 2 threads on \(what)")
        #expect(j1 == j2, "JSON differs between 1 and 2 threads on \(what)")
        #expect(t1.count > 500, "\(what): summary unexpectedly short")
    }

    @Test(arguments: [
        "xen-4.17-qemu-all-dom0-pvdomU-load.xentrace",
        "xen-4.17-qemu-all-lost-dom0-pvdomU-load.xentrace",
        "xen-4.17-qemu-arm64-all-dom0-domU-load.xentrace",
        "xen-4.17-qemu-arm64-sched-dom0-domU-load.xentrace",
        "xen-4.17-qemu-arm64-sched-dom0-load.xentrace",
        "xen-4.17-qemu-sched-dom0-pvhdomU.xentrace",
        "xen-4.17.5-selfbuilt-qemu-sched-dom0-pvdomU.xentrace",
        "xen-4.x-public.xentrace",
    ])
    func samples(name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: samplePath(name))))
        try expectIdentical(bytes, name)
    }

    /// The benchmark's shape, small: 2,000 domains, 8,000 vCPUs, collector
    /// stalls (lost records) and ring wraps.
    @Test func synthesizedWithLostRecords() throws {
        var o = TraceSynthesizer.Options()
        o.size = 8 << 20; o.cpus = 8; o.domains = 2000; o.vcpus = 8000; o.seed = 1
        var bytes: [UInt8] = []
        let c = TraceSynthesizer(o).generate { bytes.append(contentsOf: $0) }
        #expect(c.lostRecordEvents == 8 && c.wrapRecords > 0)
        try expectIdentical(bytes, "synth 8 MiB")
    }

    @Test func generatedWithLostRecords() throws {
        let g = GeneratedTrace(cpus: 4, guestsPerCPU: 3, slices: 400, seed: 3, loseOnCPU: 2, dropExitEntryAt: 9)
        #expect(g.lost > 0)
        try expectIdentical(g.bytes, "generated trace with lost records")
    }

    /// TSCs patched to go backwards on several CPUs (some below other CPUs'
    /// records), so the per-CPU streams are out of order.
    @Test func outOfOrderInput() throws {
        for seed: UInt64 in [1, 2, 3] {
            var bytes = GeneratedTrace(cpus: 3, guestsPerCPU: 2, slices: 300, seed: seed, loseOnCPU: 1).bytes
            var offsets: [Int] = []
            bytes.withUnsafeBytes { b in
                var w = XenalyzeOrderWalk(b)
                w.run { item in
                    if case .record(let r, _) = item, r.hasTSC { offsets.append(r.offset) }
                }
            }
            var rng = GeneratedTrace.RNG(s: seed)
            var patched = 0
            for _ in 0..<12 {
                let at = offsets[rng.below(offsets.count)]
                var tsc: UInt64 = 0
                for i in 0..<8 { tsc |= UInt64(bytes[at + 4 + i]) << (8 * UInt64(i)) }
                let back = UInt64(1 + rng.below(5_000_000))
                let new = tsc > back ? tsc - back : 1
                for i in 0..<8 { bytes[at + 4 + i] = UInt8(truncatingIfNeeded: new >> (8 * UInt64(i))) }
                patched += 1
            }
            let s = bytes.withUnsafeBytes { Summarizer.summarize(bytes: $0, file: "t") }
            #expect(s.diagnostics.contains { $0.contains("backwards") }, "seed \(seed): no TSC-backwards diagnostic")
            #expect(patched == 12)
            try expectIdentical(bytes, "out-of-order trace, seed \(seed)")
        }
    }
}

/// The open-addressing table the hot loops use instead of `Dictionary`.
@Suite struct IntTableTests {
    @Test func matchesDictionary() {
        var t = IntTable()
        var d: [UInt64: Int] = [:]
        var rng = GeneratedTrace.RNG(s: 99)
        for i in 0..<50_000 {
            // Small keys (collisions), huge keys and the table's own empty marker.
            let k: UInt64 = i % 1000 == 0 ? UInt64.max : rng.below(3) == 0 ? rng.next() : UInt64(rng.below(5000))
            switch rng.below(3) {
            case 0: t.set(k, i); d[k] = i
            default: t.add(k, 3); d[k, default: 0] += 3
            }
            let probe: UInt64 = rng.below(2) == 0 ? k : UInt64(rng.below(10_000))
            #expect(t.get(probe) == d[probe])
        }
        #expect(t.count == d.count)
        let pairs = t.pairs.sorted { $0.key < $1.key }
        #expect(pairs.map(\.key) == d.keys.sorted())
        #expect(pairs.map(\.value) == d.keys.sorted().map { d[$0]! })
    }
}

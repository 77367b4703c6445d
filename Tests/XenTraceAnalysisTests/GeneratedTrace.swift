import XenTrace

/// A small deterministic generator of realistic traces for the analysis
/// tests: pCPUs each running an idle vCPU and a few guest vCPUs; HVM vCPUs
/// exit and re-enter (with handler records without TSC, HLT exits that block
/// until the next wake-up), PV vCPUs make hypercalls (some in multicalls),
/// take page faults and emulations; optional lost records mid-stream and an
/// exit whose entry is missing; optionally only some trace classes (by the
/// event id's top bits: 0x1 gen, 0x2 sched, 0x8 HVM, 0x20 PV, 0x80 hw). Windows interleave like xentrace writes them.
struct GeneratedTrace {
    struct Guest { var dom: UInt32; var vcpu: UInt32; var hvm: Bool }
    var bytes: [UInt8] = []
    /// Records written (CPU-change records included) and lost records claimed.
    var records = 0
    var lost = 0

    /// xorshift64*: deterministic across platforms.
    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s >> 12; s ^= s << 25; s ^= s >> 27; return s &* 2685821657736338717 }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    init(cpus: Int = 2, guestsPerCPU: Int = 2, slices: Int = 300, seed: UInt64 = 1,
         loseOnCPU: Int? = nil, dropExitEntryAt: Int? = nil, slowReason: UInt32? = nil,
         classes: Set<UInt32>? = nil) {
        var rng = RNG(s: seed | 1)
        var perCPU: [[TraceRecord]] = []
        for c in 0..<cpus {
            var recs: [TraceRecord] = []
            var t: UInt64 = 1_000_000 + UInt64(c) * 1_777
            let idle = UInt32(32767) << 16 | UInt32(c)
            var guests: [Guest] = []
            for g in 0..<guestsPerCPU {
                let hvm = g % 2 == 0
                guests.append(Guest(dom: hvm ? 1 : 2 + UInt32(c), vcpu: hvm ? UInt32(c) : UInt32(g / 2), hvm: hvm))
            }
            func rs(_ old: UInt32, _ new: UInt32, _ who: UInt32) {
                recs.append(TraceRecord(cpu: UInt32(c), event: 0x21001 | old << 8 | new << 4, tsc: t, extra: [who]))
            }
            func adv(_ lo: Int, _ hi: Int) { t += UInt64(lo + rng.below(hi - lo)) }
            // Start of day: the idle vCPU is running.
            recs.append(TraceRecord(cpu: UInt32(c), event: 0x21002, tsc: t, extra: [idle]))
            var exitsSoFar = 0
            for s in 0..<slices {
                let g = guests[s % guests.count]
                let who = g.dom << 16 | g.vcpu
                adv(20_000, 400_000)
                // wake (first slice: the vCPU was runnable already)
                if s >= guests.count { rs(2, 1, who) }
                adv(2_000, 30_000)
                rs(0, 1, idle)
                if s < guests.count { rs(1, 0, who) } else { rs(1, 0, who) }
                adv(500, 3_000)
                if g.hvm {
                    recs.append(TraceRecord(cpu: UInt32(c), event: 0x81001, tsc: t, extra: []))
                    for _ in 0..<(2 + rng.below(6)) {
                        adv(5_000, 80_000)
                        let reason: UInt32 = [1, 7, 10, 18, 28, 30, 48][rng.below(7)]
                        let rip: UInt64 = 0xffff_ffff_8100_0000 + UInt64(rng.below(8)) * 0x40
                        recs.append(TraceRecord(cpu: UInt32(c), event: 0x81102, tsc: t,
                                                extra: [reason, UInt32(truncatingIfNeeded: rip), UInt32(rip >> 32)]))
                        if reason == 1 { recs.append(TraceRecord(cpu: UInt32(c), event: 0x8200f, tsc: nil, extra: [UInt32(0xec + rng.below(3))])) }
                        if reason == 10 { recs.append(TraceRecord(cpu: UInt32(c), event: 0x8200e, tsc: nil, extra: [1, 0, 0, 0, 0, 0])) }
                        exitsSoFar += 1
                        if reason == slowReason { adv(8_000, 400_000) } else { adv(800, 40_000) }
                        if exitsSoFar == dropExitEntryAt { continue }   // an exit whose entry is missing
                        recs.append(TraceRecord(cpu: UInt32(c), event: 0x81001, tsc: t, extra: []))
                    }
                    // HLT: exit, then block; the exit closes at the next wake-up.
                    adv(5_000, 50_000)
                    recs.append(TraceRecord(cpu: UInt32(c), event: 0x81102, tsc: t, extra: [12, 0x8100_0100, 0xffff_ffff]))
                    recs.append(TraceRecord(cpu: UInt32(c), event: 0x82013, tsc: nil, extra: [0]))
                    adv(1_000, 5_000)
                } else {
                    for _ in 0..<(3 + rng.below(10)) {
                        adv(2_000, 30_000)
                        switch rng.below(6) {
                        case 0:
                            recs.append(TraceRecord(cpu: UInt32(c), event: 0x201104, tsc: t, extra: [0x1000, 0xffff_8000, 0x2000, 0, 2]))
                        case 1:
                            recs.append(TraceRecord(cpu: UInt32(c), event: 0x201006, tsc: t, extra: [0x8100_1234]))
                        case 2:
                            // a multicall with two subcalls
                            recs.append(TraceRecord(cpu: UInt32(c), event: 0x20100d, tsc: t, extra: [13 | 1 << 20 | 1 << 22, 0x1000, 2]))
                            recs.append(TraceRecord(cpu: UInt32(c), event: 0x20200e, tsc: t, extra: [1 | 1 << 20, 0x2000]))
                            recs.append(TraceRecord(cpu: UInt32(c), event: 0x20200e, tsc: t, extra: [26 | 1 << 20, 0x3000]))
                        default:
                            let op: UInt32 = [1, 23, 24, 29, 32][rng.below(5)]
                            recs.append(TraceRecord(cpu: UInt32(c), event: 0x20100d, tsc: t, extra: [op | 1 << 20, 7]))
                        }
                    }
                    adv(1_000, 5_000)
                }
                rs(0, 2, who)
                rs(1, 0, idle)
                if s % 7 == 3 {
                    // The idle loop enters a C-state for a while.
                    adv(1_000, 2_000)
                    recs.append(TraceRecord(cpu: UInt32(c), event: 0x801002, tsc: t, extra: [UInt32(1 + s % 3), 0, 100, 100]))
                    adv(10_000, 100_000)
                    recs.append(TraceRecord(cpu: UInt32(c), event: 0x801003, tsc: t, extra: [UInt32(1 + s % 3), 0, 0, 0, 0]))
                }
            }
            // Leave the last guests awake so their HLT exits close at a wake-up.
            for g in guests {
                adv(20_000, 40_000)
                rs(2, 1, g.dom << 16 | g.vcpu)
            }
            if let lc = loseOnCPU, lc == c, recs.count > 400 {
                // Drop a run of records as Xen would when the ring is full, and
                // put a lost-records record where writing resumed.
                var a = recs.count / 2
                while !recs[a].hasTSC { a += 1 }
                var b = a + 40
                while !recs[b].hasTSC { b += 1 }
                let first = recs[a].tsc, at = recs[b].tsc
                // The vCPU current when writing resumed: the last runstate-to-running before b.
                var cur: UInt32 = idle
                for r in recs[..<b] where r.event & 0xfff0f == 0x21001 && (r.event >> 4) & 0xf == 0 { cur = r.extra.w0 }
                let curPacked = (cur >> 16) | (cur & 0xffff) << 16
                lost += b - a
                recs.replaceSubrange(a..<b, with: [TraceRecord(cpu: UInt32(c), event: 0x1f001, tsc: at,
                    extra: [UInt32(b - a), curPacked, UInt32(truncatingIfNeeded: first), UInt32(first >> 32)])])
            }
            // Only some trace classes enabled (xentrace -e): drop the others.
            if let classes { recs = recs.filter { classes.contains($0.event >> 16) } }
            perCPU.append(recs)
        }
        // Windows as xentrace writes them: at each poll (every ~3M cycles)
        // one window per CPU with the records written since the last poll.
        var w = TraceWriter()
        var idx = [Int](repeating: 0, count: cpus)
        var poll: UInt64 = 1_000_000
        while idx.enumerated().contains(where: { $0.element < perCPU[$0.offset].count }) {
            poll += UInt64(2_000_000 + rng.below(2_000_000))
            for c in 0..<cpus where idx[c] < perCPU[c].count {
                var e = idx[c]
                while e < perCPU[c].count && perCPU[c][e].tsc < poll { e += 1 }
                if e == idx[c] { continue }
                w.appendWindow(cpu: UInt32(c), records: Array(perCPU[c][idx[c]..<e]))
                records += e - idx[c] + 1
                idx[c] = e
            }
        }
        bytes = w.bytes
    }
}

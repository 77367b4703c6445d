import XenTrace

/// PV guests: events per kind (hypercalls, traps, page faults, emulations)
/// and hypercalls per hypercall number, per vCPU.
struct PVAnalysis {
    struct PerVCPU {
        var counts = [Int](repeating: 0, count: 15)
        var hypercalls: [Int: Int] = [:]
    }
    /// `counts[v * 15 + minor]`: flat, so the hot path touches one array.
    var counts: [Int] = []
    /// (vCPU << 32 | hypercall number) → calls.
    var hypercalls = IntTable()
    var anomalies = AnomalyLog()

    mutating func record(_ r: TraceRecord, vcpu v: Int) {
        if counts.count <= v * 15 { counts.append(contentsOf: repeatElement(0, count: (v + 1) * 15 - counts.count)) }
        var minor = Int(r.event & 0xff)
        guard minor < 15 else { return }
        if minor == Ev.pvPtwrEmulationPAE { minor = Ev.pvPtwrEmulation }
        counts[v * 15 + minor] += 1
        switch minor {
        case Ev.pvHypercall:
            // Old format: eip (32- or 64-bit), then eax = hypercall number.
            let op = r.event & 0x100 != 0 ? r.extra.w2 : r.extra.w1
            hypercalls.add(UInt64(v) << 32 | UInt64(op), 1)
        case Ev.pvHypercallV2, Ev.pvHypercallSubcall:
            guard r.extraCount >= 1 else {
                anomalies.note("bad-hypercall-record", offset: r.offset, "hypercall record without payload")
                return
            }
            hypercalls.add(UInt64(v) << 32 | UInt64(r.extra.w0 & 0x000f_ffff), 1)
        default: break
        }
    }

    /// Per-vCPU figures, for assembling the summary (vCPUs without PV records: nil).
    func perVCPU() -> [PerVCPU?] {
        var out = [PerVCPU?](repeating: nil, count: counts.count / 15)
        for v in out.indices { out[v] = PerVCPU(counts: Array(counts[v * 15 ..< v * 15 + 15])) }
        for (k, n) in hypercalls.pairs { out[Int(k >> 32)]!.hypercalls[Int(k & 0xffff_ffff)] = n }
        return out
    }
}

/// Interrupts: vectors of external-interrupt VM exits (HVM INTR handler
/// records) and Xen's own IRQ-handled records, per CPU.
struct IRQAnalysis {
    /// (cpu, vector) → count
    var vectors: [Int: Int] = [:]
    /// (cpu, irq) → count
    var handled: [Int: Int] = [:]

    mutating func record(_ r: TraceRecord) {
        switch r.event {
        case Ev.hvmIntr where r.extraCount >= 1:
            vectors[Int(r.cpu) << 32 | Int(r.extra.w0 & 0xffff_ffff), default: 0] += 1
        case Ev.irqHandled where r.extraCount >= 1:
            handled[Int(r.cpu) << 32 | Int(r.extra.w0), default: 0] += 1
        default: break
        }
    }
}

/// Power management: C-state residency (idle entry → idle exit) and P-state
/// residency (time between frequency changes) per CPU.
struct PowerAnalysis {
    struct CPU {
        var idleState = -1
        var idleTSC: UInt64 = 0
        var cstates: [Int: CycleStats] = [:]
        var mhz = -1
        var mhzTSC: UInt64 = 0
        var pstates: [Int: CycleStats] = [:]
        var firstTSC: UInt64 = 0
        var lastTSC: UInt64 = 0

        mutating func apply(_ r: TraceRecord, cpuFirstTSC: UInt64, anomalies: inout AnomalyLog) {
            firstTSC = cpuFirstTSC
            let c = r.cpu
            switch r.event {
            case Ev.pmIdleEntry:
                if idleState >= 0 {
                    anomalies.note("idle-entry-twice", offset: r.offset, "idle entry on CPU \(c) while already idle; the earlier entry is not timed")
                }
                idleState = Int(r.extra.w0)
                idleTSC = r.tsc
            case Ev.pmIdleExit:
                if idleState >= 0 && r.tsc >= idleTSC {
                    cstates[idleState, default: CycleStats()].add(r.tsc - idleTSC)
                } else if idleState < 0 {
                    anomalies.note("idle-exit-without-entry", offset: r.offset, "idle exit on CPU \(c) without an idle entry")
                }
                idleState = -1
            case Ev.pmFreqChange where r.extraCount >= 2:
                let old = Int(r.extra.w0), new = Int(r.extra.w1)
                if mhz < 0 {
                    // Before the first change the CPU ran at the old frequency
                    // since (at least) its first record in the trace.
                    if firstTSC != 0 && r.tsc >= firstTSC { pstates[old, default: CycleStats()].add(r.tsc - firstTSC) }
                } else if r.tsc >= mhzTSC {
                    pstates[mhz, default: CycleStats()].add(r.tsc - mhzTSC)
                }
                mhz = new
                mhzTSC = r.tsc
            default:
                break
            }
        }
    }
    var cpus: [Int: CPU] = [:]
    var anomalies = AnomalyLog()
    var sawEvents = false

    /// A PM record; `cpuFirstTSC` is the first TSC of its CPU in the trace.
    mutating func record(_ r: TraceRecord, cpuFirstTSC: UInt64) {
        let c = Int(r.cpu)
        switch r.event {
        case Ev.pmIdleEntry, Ev.pmIdleExit, Ev.pmFreqChange: break
        default: return
        }
        sawEvents = true
        if cpus[c] == nil { cpus[c] = CPU() }
        // In place: copying a CPU out would copy its residency tables.
        cpus[c]!.apply(r, cpuFirstTSC: cpuFirstTSC, anomalies: &anomalies)
    }

    /// Closes the open P-state interval at each CPU's last TSC.
    mutating func finish(lastTSC: (Int) -> UInt64) {
        for (c, var s) in cpus {
            s.lastTSC = lastTSC(c)
            if s.mhz >= 0 && s.lastTSC > s.mhzTSC {
                s.pstates[s.mhz, default: CycleStats()].add(s.lastTSC - s.mhzTSC)
            }
            s.mhz = -1
            cpus[c] = s
        }
    }
}

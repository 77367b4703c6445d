import XenTrace

/// HVM exits: each VMEXIT is timed until the vCPU's next VMENTRY (or until it
/// is woken, if it blocked inside the exit, as xenalyze does), per exit reason
/// and vCPU, with a histogram per reason and the hottest guest RIPs.
struct HVMExitAnalysis {
    struct InFlight {
        var seen = false
        var open = false
        var exitTSC: UInt64 = 0
        var reason = 0
        /// `reason`'s dense slot.
        var slot = 0
        var rip: UInt64 = 0
        var offset = 0
        var closedQuietly = false
    }
    /// Per-reason totals over all vCPUs.
    struct ReasonTotal {
        var stats = CycleStats()
        var histogram = LogHistogram()
        var rips = IntTable()
        var ripsDropped = 0
        /// Once `rips` is full most RIPs are new ones to drop: a bit per hash
        /// of the RIPs in the table (64 Ki bits) settles most of them without
        /// probing the table, which no longer fits a cache.
        var ripBits: [UInt64] = []

        @inline(__always) static func bit(_ rip: UInt64) -> Int {
            Int(truncatingIfNeeded: (rip &* 0xD6E8_FEB8_6659_FD93) >> 48)
        }

        mutating func add(_ d: UInt64, rip: UInt64) {
            stats.add(d)
            histogram.add(d)
            if rips.count < HVMExitAnalysis.maxRIPsPerReason {
                rips.add(rip, 1)
                if rips.count == HVMExitAnalysis.maxRIPsPerReason && ripBits.isEmpty {
                    ripBits = [UInt64](repeating: 0, count: 1024)
                    for (k, _) in rips.pairs { let b = ReasonTotal.bit(k); ripBits[b >> 6] |= 1 << UInt64(b & 63) }
                }
                return
            }
            let b = ReasonTotal.bit(rip)
            if ripBits[b >> 6] & (1 << UInt64(b & 63)) != 0, let n = rips.get(rip) {
                rips.set(rip, n + 1)
            } else {
                ripsDropped += 1
            }
        }
    }
    static let maxRIPsPerReason = 4096

    var inflight: [InFlight] = []
    /// Exit reasons get dense slots in the order first seen, so per-vCPU
    /// figures live in one flat array (`slotStride` slots per vCPU) and the
    /// hot path does no dictionary lookups.
    var slotOfReason = IntTable()
    var reasonOfSlot: [Int] = []
    var slotStride = 16
    /// `perVCPUStats[v * slotStride + slot]`; `events == 0`: reason not seen on v.
    var perVCPUStats: [CycleStats] = []
    /// Per-slot totals.
    var totalsBySlot: [ReasonTotal] = []
    /// What the exits say about VMX or SVM numbering (every VMEXIT record, attributed or not).
    var flavour = HVMFlavourDetector()
    var anomalies = AnomalyLog()
    var exitRecords = 0
    /// Sink for the early loads in `exit` (kept so they are not optimised away).
    var touched = 0
    var entryRecords = 0
    /// When exporting: exits closed since the last drain (vCPU, reason, rip, start, end).
    var recordClosed = false
    var closed: [(v: Int, reason: Int, rip: UInt64, start: UInt64, end: UInt64)] = []

    mutating func ensure(_ v: Int) {
        if inflight.count <= v {
            inflight.append(contentsOf: repeatElement(InFlight(), count: v + 1 - inflight.count))
            perVCPUStats.append(contentsOf: repeatElement(CycleStats(), count: inflight.count * slotStride - perVCPUStats.count))
        }
    }

    /// The dense slot of exit reason `reason`, made on first sight.
    @inline(__always) mutating func slot(_ reason: Int) -> Int {
        if let s = slotOfReason.get(UInt64(bitPattern: Int64(reason))) { return s }
        let s = reasonOfSlot.count
        slotOfReason.set(UInt64(bitPattern: Int64(reason)), s)
        reasonOfSlot.append(reason)
        totalsBySlot.append(ReasonTotal())
        if s >= slotStride {
            // Re-lay the per-vCPU table out with room for twice the reasons.
            let old = perVCPUStats, oldStride = slotStride
            slotStride *= 2
            perVCPUStats = [CycleStats](repeating: CycleStats(), count: inflight.count * slotStride)
            for v in 0..<inflight.count {
                for k in 0..<oldStride { perVCPUStats[v * slotStride + k] = old[v * oldStride + k] }
            }
        }
        return s
    }

    /// Per-vCPU exit figures by reason, ascending (what a dictionary held before).
    func exits(ofVCPU v: Int) -> [(reason: Int, stats: CycleStats)] {
        guard v < inflight.count else { return [] }
        var out: [(reason: Int, stats: CycleStats)] = []
        for k in 0..<reasonOfSlot.count where perVCPUStats[v * slotStride + k].events > 0 {
            out.append((reasonOfSlot[k], perVCPUStats[v * slotStride + k]))
        }
        return out.sorted { $0.reason < $1.reason }
    }

    /// Totals per reason with at least one timed exit, in no particular order.
    var totals: [(reason: Int, total: ReasonTotal)] {
        reasonOfSlot.indices.filter { totalsBySlot[$0].stats.events > 0 }.map { (reasonOfSlot[$0], totalsBySlot[$0]) }
    }

    mutating func exit(_ r: TraceRecord, vcpu v: Int) {
        exitRecords += 1
        let is64 = r.event & 0x100 != 0
        guard r.extraCount == (is64 ? 3 : 2) else {
            anomalies.note("bad-vmexit-record", offset: r.offset, "VMEXIT with \(r.extraCount) payload words")
            return
        }
        ensure(v)
        if inflight[v].open {
            anomalies.note("exit-without-entry", offset: inflight[v].offset,
                           "VMEXIT at byte \(inflight[v].offset) has no VMENTRY before the next VMEXIT (byte \(r.offset)); not timed")
        }
        let k = slot(Int(r.extra.w0))
        // Touch the figures this exit will update when it closes, so the
        // cache miss overlaps the records in between.
        touched &+= perVCPUStats[v &* slotStride &+ k].events
        inflight[v] = InFlight(seen: true, open: true, exitTSC: r.tsc, reason: Int(r.extra.w0), slot: k,
                               rip: is64 ? UInt64(r.extra.w1) | UInt64(r.extra.w2) << 32 : UInt64(r.extra.w1),
                               offset: r.offset)
    }

    mutating func entry(_ r: TraceRecord, vcpu v: Int) {
        entryRecords += 1
        ensure(v)
        guard inflight[v].seen else { return }
        guard inflight[v].open else {
            if !inflight[v].closedQuietly {
                anomalies.note("entry-without-exit", offset: r.offset, "VMENTRY with no VMEXIT before it on this vCPU")
            }
            inflight[v].closedQuietly = false
            return
        }
        close(v, r.tsc)
    }

    /// Closes the open exit of `v` at `tsc` (entry, or wake-up while blocked in it).
    mutating func close(_ v: Int, _ tsc: UInt64, quietly: Bool = false) {
        guard v < inflight.count, inflight[v].open else { return }
        let f = inflight[v]
        inflight[v].open = false
        inflight[v].closedQuietly = quietly
        guard f.exitTSC <= tsc else {
            anomalies.note("exit-entry-backwards", offset: f.offset, "VMEXIT's TSC is after the record that ends it; not timed")
            return
        }
        let d = tsc - f.exitTSC
        if recordClosed { closed.append((v, f.reason, f.rip, f.exitTSC, tsc)) }
        let k = f.slot
        perVCPUStats[v * slotStride + k].add(d)
        // Mutate in place: copying a ReasonTotal out would copy its RIP table.
        totalsBySlot[k].add(d, rip: f.rip)
    }

    /// Forget an open exit (lost records made it unaccountable).
    mutating func forget(_ v: Int) {
        guard v < inflight.count else { return }
        if inflight[v].open {
            anomalies.note("exit-lost", offset: inflight[v].offset, "VMEXIT whose end was lost (lost records or end of trace); not timed")
        }
        inflight[v].open = false
        inflight[v].closedQuietly = true
    }
}

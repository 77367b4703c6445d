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
        var rip: UInt64 = 0
        var offset = 0
        var closedQuietly = false
    }
    /// Per-reason totals over all vCPUs.
    struct ReasonTotal {
        var stats = CycleStats()
        var histogram = LogHistogram()
        var rips: [UInt64: Int] = [:]
        var ripsDropped = 0

        mutating func add(_ d: UInt64, rip: UInt64) {
            stats.add(d)
            histogram.add(d)
            if rips.count < HVMExitAnalysis.maxRIPsPerReason || rips[rip] != nil {
                rips[rip, default: 0] += 1
            } else {
                ripsDropped += 1
            }
        }
    }
    static let maxRIPsPerReason = 4096

    var inflight: [InFlight] = []
    var perVCPU: [[Int: CycleStats]] = []
    var totals: [Int: ReasonTotal] = [:]
    /// What the exits say about VMX or SVM numbering (every VMEXIT record, attributed or not).
    var flavour = HVMFlavourDetector()
    var anomalies = AnomalyLog()
    var exitRecords = 0
    var entryRecords = 0
    /// When exporting: exits closed since the last drain (vCPU, reason, rip, start, end).
    var recordClosed = false
    var closed: [(v: Int, reason: Int, rip: UInt64, start: UInt64, end: UInt64)] = []

    mutating func ensure(_ v: Int) {
        if inflight.count <= v {
            inflight.append(contentsOf: repeatElement(InFlight(), count: v + 1 - inflight.count))
            perVCPU.append(contentsOf: repeatElement([:], count: v + 1 - perVCPU.count))
        }
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
        inflight[v] = InFlight(seen: true, open: true, exitTSC: r.tsc, reason: Int(r.extra.w0),
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
        perVCPU[v][f.reason, default: CycleStats()].add(d)
        // Mutate in place: copying a ReasonTotal out would copy its RIP table.
        totals[f.reason, default: ReasonTotal()].add(d, rip: f.rip)
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

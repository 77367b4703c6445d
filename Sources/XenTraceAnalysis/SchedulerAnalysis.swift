import XenTrace

/// Who runs where, and for how long: the runstate pass.
///
/// It follows the rules xenalyze uses for its runstate figures, so the numbers
/// can be checked against it (docs/xenalyze-parity.md):
/// - a vCPU's accounting starts the first time it is seen entering *running*
///   (from the pCPU's first TSC if the record says it was already running);
///   until then its records are ignored;
/// - every runstate record (change or continue-running) closes the current
///   interval of that vCPU and opens the next one, so "count" is the number of
///   intervals;
/// - a record whose old state contradicts what we know is reported as an
///   anomaly with its offset; the vCPU is then moved as the record says
///   (unless it was running, which only its own pCPU can end);
/// - lost records put every vCPU not running into *lost* (no accounting until
///   it is next seen running) and close the current vCPU of that pCPU at the
///   first lost TSC; the vCPU named in the lost-records record resumes when
///   losing ends;
/// - at the end of a pCPU's stream its current vCPU's running interval is
///   closed at that pCPU's last TSC; other open intervals stay unaccounted.
/// Five cycle statistics stored inline (running, runnable, blocked, offline,
/// lost), so updating a vCPU never allocates.
struct RunstateStats {
    var s0 = CycleStats(), s1 = CycleStats(), s2 = CycleStats(), s3 = CycleStats(), s4 = CycleStats()
    subscript(i: Int) -> CycleStats {
        get { switch i { case 0: s0; case 1: s1; case 2: s2; case 3: s3; default: s4 } }
        set { switch i { case 0: s0 = newValue; case 1: s1 = newValue; case 2: s2 = newValue; case 3: s3 = newValue; default: s4 = newValue } }
    }
}

struct SchedulerAnalysis {
    enum RS: Int8 { case running = 0, runnable, blocked, offline, lost, queued, initial }
    enum RunnableKind: Int8 { case invalid = 0, wake, preempt, other }
    enum DataType: Int8 { case none = 0, hvm, pv }

    struct VCPU {
        var dom: Int
        var vid: Int
        var state: RS = .initial
        var tsc: UInt64 = 0
        var pcpu: Int = -1
        var activated = false
        var runnable: RunnableKind = .invalid
        var wrongOld: RS = .initial
        var wrongActual: RS = .initial
        var wrongTSC: UInt64 = 0
        var pcpuTSC: UInt64 = 0
        var dataType: DataType = .none
        var runstates = RunstateStats()
        var wake = CycleStats(), preempt = CycleStats(), otherRunnable = CycleStats()
        var runs = 0
        var migrations = 0
    }

    struct PCPU {
        var active = false
        var current: Int? = nil
        var firstTSC: UInt64 = 0
        var timeTSC: UInt64 = 0
        var seenValidSchedule = false
        var lostActive = false
        var lostTSC: UInt64 = 0
        var lostDomainValid = false
        var lostDom = 0, lostVid = 0
        var running = CycleStats(), idle = CycleStats(), lost = CycleStats()
        var contextSwitches = 0
    }

    static let idleDomain = 32767
    static let defaultDomain = 32768

    var vcpus: [VCPU] = []
    var index = IntTable()
    var pcpus: [PCPU]
    var lostCPUs = 0
    var anomalies = AnomalyLog()
    /// Wake-to-run latencies (runnable after blocked/offline, until running).
    var wakeLatency = LogHistogram()
    var wakeLatencyByDomain: [Int: LogHistogram] = [:]
    /// vCPUs whose in-flight HVM exit must be closed at the given TSC (woken).
    var closeExits: [(Int, UInt64)] = []
    /// vCPUs whose in-flight state must be forgotten (lost).
    var lostVCPUs: [Int] = []
    /// Current offset, for anomaly reports.
    var offset = 0
    /// Where closed intervals go when exporting a timeline.
    var sink: TimelineSink? = nil
    /// Guest vCPUs currently runnable (for the timeline counter).
    var runnableCount = 0

    init(maxCPU: Int) {
        pcpus = [PCPU](repeating: PCPU(), count: maxCPU + 1)
    }

    mutating func find(_ dom: Int, _ vid: Int) -> Int {
        let key = UInt64(truncatingIfNeeded: dom << 16 | vid)
        if let i = index.get(key) { return i }
        vcpus.append(VCPU(dom: dom, vid: vid))
        index.set(key, vcpus.count - 1)
        return vcpus.count - 1
    }

    /// First record of a pCPU: its current vCPU is the "default" one
    /// (unknown) until a schedule record says otherwise.
    mutating func activate(_ p: Int) {
        guard !pcpus[p].active else { return }
        pcpus[p].active = true
        let v = find(SchedulerAnalysis.defaultDomain, p)
        vcpus[v].activated = true
        vcpus[v].pcpu = p
        vcpus[v].state = .running
        pcpus[p].current = v
    }

    // MARK: runstate bookkeeping

    mutating func runstateUpdate(_ v: Int, _ new: RS, _ tsc: UInt64) {
        // In place: a VCPU is a few hundred bytes; copying it out and back
        // for every update showed up in profiles.
        let oldState = vcpus[v].state
        let (closedState, start, wakeD) = SchedulerAnalysis.apply(&vcpus[v], new, tsc)
        let dom = vcpus[v].dom
        if let sink, closedState >= 0, dom != SchedulerAnalysis.defaultDomain {
            sink.runstate(dom: dom, vcpu: vcpus[v].vid, pcpu: vcpus[v].pcpu, state: closedState, start: start, end: tsc)
        }
        if let d = wakeD, dom != SchedulerAnalysis.defaultDomain {
            wakeLatency.add(d)
            wakeLatencyByDomain[dom, default: LogHistogram()].add(d)
        }
        if let sink, dom < SchedulerAnalysis.idleDomain, (oldState == .runnable) != (new == .runnable) {
            runnableCount += new == .runnable ? 1 : -1
            sink.runnable(tsc: tsc, count: runnableCount)
        }
    }

    /// The state change itself; returns the state whose interval was closed
    /// (-1 if none) with its start, and the wake latency if one ended.
    @inline(__always)
    static func apply(_ x: inout VCPU, _ new: RS, _ tsc: UInt64) -> (Int, UInt64, UInt64?) {
        var closed = -1
        let start = x.tsc
        var wake: UInt64? = nil
        if x.tsc > 0 && x.tsc < tsc {
            let d = tsc - x.tsc
            if x.state.rawValue < 5 {
                x.runstates[Int(x.state.rawValue)].add(d)
                closed = Int(x.state.rawValue)
            }
            if x.state == .runnable {
                switch x.runnable {
                case .wake:
                    x.wake.add(d)
                    wake = d
                case .preempt: x.preempt.add(d)
                case .other: x.otherRunnable.add(d)
                case .invalid: break
                }
            }
        }
        if new == .runnable {
            switch x.state {
            case .running: x.runnable = .preempt
            case .blocked, .offline: x.runnable = .wake
            default: x.runnable = .other
            }
        } else {
            x.runnable = .invalid
        }
        x.state = new
        x.tsc = tsc
        return (closed, start, wake)
    }

    mutating func pcpuTimeUpdate(_ p: Int, _ tsc: UInt64) {
        guard pcpus[p].timeTSC != 0, let c = pcpus[p].current else { pcpus[p].timeTSC = 0; return }
        let d = tsc &- pcpus[p].timeTSC
        if vcpus[c].dom == SchedulerAnalysis.idleDomain { pcpus[p].idle.add(d) } else { pcpus[p].running.add(d) }
        pcpus[p].timeTSC = 0
    }

    mutating func prevUpdate(_ p: Int, _ v: Int, _ tsc: UInt64, _ new: RS) {
        guard p >= 0 && p < pcpus.count else {
            anomalies.note("switch-from-other-pcpu", offset: offset, "d\(vcpus[v].dom)v\(vcpus[v].vid) descheduled but no pCPU is known for it; its interval is not counted")
            vcpus[v].tsc = 0
            runstateUpdate(v, new, tsc)
            return
        }
        if vcpus[v].pcpu != p {
            anomalies.note("switch-from-other-pcpu", offset: offset,
                           "d\(vcpus[v].dom)v\(vcpus[v].vid) descheduled on pCPU \(p) but last ran on pCPU \(vcpus[v].pcpu); its interval is not counted")
            vcpus[v].tsc = 0
        } else if pcpus[p].current != v {
            anomalies.note("switch-not-current", offset: offset,
                           "d\(vcpus[v].dom)v\(vcpus[v].vid) descheduled on pCPU \(p) which was running another vCPU; its interval is not counted")
            vcpus[v].tsc = 0
        } else if vcpus[v].state != .running {
            anomalies.note("switch-not-running", offset: offset,
                           "d\(vcpus[v].dom)v\(vcpus[v].vid) descheduled while not running; its interval is not counted")
            vcpus[v].tsc = 0
        }
        if p >= 0 && p < pcpus.count {
            pcpuTimeUpdate(p, tsc)
            pcpus[p].current = nil
        }
        runstateUpdate(v, new, tsc)
    }

    mutating func nextUpdate(_ p: Int, _ v: Int, _ tsc: UInt64) {
        if let c = pcpus[p].current {
            if !pcpus[p].seenValidSchedule {
                runstateUpdate(c, .lost, tsc)
                pcpus[p].current = nil
            } else {
                anomalies.note("schedule-while-current", offset: offset,
                               "d\(vcpus[v].dom)v\(vcpus[v].vid) scheduled on pCPU \(p) while d\(vcpus[c].dom)v\(vcpus[c].vid) still runs there")
                runstateUpdate(c, .lost, tsc)
                pcpus[p].current = nil
            }
        }
        if vcpus[v].activated {
            if vcpus[v].state == .running && vcpus[v].dom != SchedulerAnalysis.defaultDomain {
                anomalies.note("already-running", offset: offset,
                               "d\(vcpus[v].dom)v\(vcpus[v].vid) scheduled on pCPU \(p) while running on pCPU \(vcpus[v].pcpu); the open interval is dropped")
                vcpus[v].tsc = 0
            }
            if vcpus[v].pcpu != p {
                if vcpus[v].pcpuTSC != 0 { vcpus[v].migrations += 1 }
                vcpus[v].pcpuTSC = tsc
            }
        } else {
            vcpus[v].activated = true
            vcpus[v].pcpuTSC = tsc
        }
        runstateUpdate(v, .running, tsc)
        vcpus[v].runs += 1
        vcpus[v].pcpu = p
        pcpus[p].current = v
        pcpus[p].timeTSC = tsc
        pcpus[p].seenValidSchedule = true
        pcpus[p].contextSwitches += 1
    }

    mutating func loseVCPU(_ v: Int, _ tsc: UInt64) {
        lostVCPUs.append(v)
        runstateUpdate(v, .lost, tsc)
    }

    mutating func start(_ p: Int, _ v: Int, old: RS, new: RS, _ tsc: UInt64) {
        if old == .running {
            guard let c = pcpus[p].current, vcpus[c].dom == SchedulerAnalysis.defaultDomain else {
                anomalies.note("first-schedule-unexpected", offset: offset,
                               "first record for d\(vcpus[v].dom)v\(vcpus[v].vid) says it was running on pCPU \(p), but another vCPU is known to run there; ignored")
                return
            }
            runstateUpdate(c, .queued, pcpus[p].firstTSC)
            pcpus[p].current = nil
        }
        guard new == .running else { return }   // stays unknown until seen running
        let t = old == .running ? pcpus[p].firstTSC : tsc
        runstateUpdate(v, .running, t)
        vcpus[v].runs += 1
        pcpus[p].timeTSC = t
        pcpus[p].current = v
        vcpus[v].pcpu = p
    }

    // MARK: records

    /// A runstate-change (0x21xx1) or continue-running (0x21002) record.
    mutating func runstate(_ r: TraceRecord, p: Int) {
        let lo = r.event & 0xf
        let isContinue: Bool
        var old: RS, new: RS
        if lo == 1 {
            isContinue = false
            guard let o = RS(rawValue: Int8((r.event >> 8) & 0xf)), let n = RS(rawValue: Int8((r.event >> 4) & 0xf)),
                  o.rawValue < 4, n.rawValue < 4 else {
                anomalies.note("bad-runstate-record", offset: r.offset, "runstate record 0x\(String(r.event, radix: 16)) names a state outside 0…3")
                return
            }
            old = o; new = n
        } else if lo == 2 {
            isContinue = true
            old = .running; new = .running
        } else {
            anomalies.note("bad-runstate-record", offset: r.offset, "unknown runstate record type 0x\(String(r.event, radix: 16))")
            return
        }
        guard r.extraCount >= 1 else {
            anomalies.note("bad-runstate-record", offset: r.offset, "runstate record without payload")
            return
        }
        let dom = Int(r.extra.w0 >> 16), vid = Int(r.extra.w0 & 0xffff)
        if !isContinue && ((new == .running && old != .runnable) || (new == .blocked && old == .runnable)) {
            anomalies.note("unexpected-transition", offset: r.offset,
                           "d\(dom)v\(vid) \(Names.runstates[Int(old.rawValue)])→\(Names.runstates[Int(new.rawValue)]) is not a transition Xen makes")
        }
        if vid > 4096 {
            anomalies.note("bad-runstate-record", offset: r.offset, "vCPU number \(vid) too large")
            return
        }
        let v = find(dom, vid)
        let wrongOld = vcpus[v].wrongOld, wrongActual = vcpus[v].wrongActual
        vcpus[v].wrongOld = .initial
        let tsc = r.tsc

        if vcpus[v].state == .initial {
            start(p, v, old: old, new: new, tsc)
            return
        }
        if new == .runnable { closeExits.append((v, tsc)) }

        let state = vcpus[v].state
        if state != old {
            if state == .lost {
                if new != .running { return }
            } else if wrongOld == new && wrongActual == old {
                anomalies.note("tsc-skew", offset: r.offset,
                               "d\(dom)v\(vid): this record undoes the previous contradictory one (TSC skew between pCPUs?); not applied")
                return
            } else {
                anomalies.note("runstate-mismatch", offset: r.offset,
                               "d\(dom)v\(vid) record says \(Names.runstates[Int(old.rawValue)]) but it was \(state)")
                vcpus[v].wrongOld = old
                vcpus[v].wrongActual = state
                vcpus[v].wrongTSC = tsc
                if state == .running { return }
            }
        }

        if isContinue {
            if vcpus[v].state == .lost {
                if let c = pcpus[p].current { prevUpdate(p, c, tsc, .lost) }
                nextUpdate(p, v, tsc)
            } else if vcpus[v].state != .running || vcpus[v].pcpu != p {
                anomalies.note("continue-not-running", offset: r.offset,
                               "continue-running for d\(dom)v\(vid) on pCPU \(p), which is not where it runs")
            }
            runstateUpdate(v, .running, tsc)
        } else if old == .running || vcpus[v].state == .running {
            prevUpdate(old == .running ? p : vcpus[v].pcpu, v, tsc, new)
            if lostCPUs > 0 && dom != SchedulerAnalysis.idleDomain { loseVCPU(v, tsc) }
        } else if new == .running {
            nextUpdate(p, v, tsc)
        } else {
            runstateUpdate(v, new, tsc)
        }
    }

    /// First visit of a lost-records record (at the first lost TSC).
    mutating func lostRecords(_ r: TraceRecord, p: Int) {
        guard r.extraCount == 4 else { return }
        let first = UInt64(r.extra.w2) | UInt64(r.extra.w3) << 32
        if let c = pcpus[p].current {
            lostVCPUs.append(c)
            prevUpdate(p, c, first, .lost)
        }
        if !pcpus[p].lostActive { lostCPUs += 1 }
        pcpus[p].lostActive = true
        pcpus[p].lostTSC = first
        for v in vcpus.indices where vcpus[v].dom != SchedulerAnalysis.defaultDomain && vcpus[v].state != .running {
            loseVCPU(v, first)
        }
        pcpus[p].lostDomainValid = true
        pcpus[p].lostDom = Int(r.extra.w1 & 0xffff)
        pcpus[p].lostVid = Int(r.extra.w1 >> 16)
    }

    /// Second visit of a lost-records record (at its own TSC): losing ended.
    mutating func lostEnd(_ r: TraceRecord, p: Int) {
        guard pcpus[p].lostActive, r.tsc > pcpus[p].lostTSC else { return }
        pcpus[p].lost.add(r.tsc - pcpus[p].lostTSC)
        if pcpus[p].lostDomainValid {
            if pcpus[p].current == nil {
                let v = find(pcpus[p].lostDom, pcpus[p].lostVid)
                nextUpdate(p, v, r.tsc)
                pcpus[p].seenValidSchedule = false
            }
            pcpus[p].lostDomainValid = false
        }
        pcpus[p].lostActive = false
        lostCPUs -= 1
    }

    /// The pCPU's stream ended: close its current vCPU at its last TSC.
    mutating func deactivate(_ p: Int, lastTSC: UInt64) {
        if let c = pcpus[p].current {
            pcpuTimeUpdate(p, lastTSC)
            loseVCPU(c, lastTSC)
        }
        pcpus[p].active = false
    }
}

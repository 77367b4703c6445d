import BinaryIO
import JSONPull
import XenTrace

/// Reads a saved `trace summary --json` document (docs/summary-json.md) back
/// into a ``TraceSummary`` with a ``JSONPullReader``: straight from the
/// (mapped) bytes into the model, with no intermediate document tree. Keys
/// may come in any order; unknown keys are passed over (newer writers);
/// a missing required key or a value of the wrong type is an error naming
/// the file and the byte offset. Optional members may be absent or `null`,
/// as with the synthesized `Decodable` conformance this replaces.
struct SummaryJSONReader {
    var r: JSONPullReader
    /// When reading a mapping: the file, and how far its pages were given back.
    let mapped: MappedFile?
    var dropped = 0

    init(_ bytes: ByteView, file: String, mapped: MappedFile? = nil) {
        r = JSONPullReader(bytes, file: file)
        self.mapped = mapped
    }

    /// Gives back the mapped pages already read, every 4 MiB, so that the
    /// text of a large summary does not stay resident beside its model
    /// (everything kept from it has been copied out).
    mutating func dropBehind() {
        guard let m = mapped, r.offset - dropped >= 4 << 20 else { return }
        let upTo = r.offset & ~0xfff
        m.dropPages(offset: dropped, count: upTo - dropped)
        dropped = upTo
    }

    /// The whole document: one summary object and nothing after it.
    mutating func document() throws -> TraceSummary {
        let s = try summary()
        try r.finish()
        return s
    }

    // MARK: helpers

    /// A required member's value, or an error at the object's start.
    func need<T>(_ v: T?, _ key: String, _ object: Int) throws -> T {
        guard let v else { throw r.error("missing key \"\(key)\" in the object that starts here", at: object) }
        return v
    }

    /// Marks member `n` of the current object as read; a second one is an
    /// error (JSONDecoder kept the first, a plain reader the last: neither
    /// is what the writer meant, so neither is guessed).
    func once(_ seen: inout UInt64, _ n: Int, _ k: JSONKey) throws {
        guard seen & (1 << n) == 0 else { throw r.error("the key \"\(k.string)\" appears twice in one object", at: k.offset) }
        seen |= 1 << n
    }

    mutating func array<T>(_ element: (inout SummaryJSONReader) throws -> T) throws -> [T] {
        var out: [T] = []
        try r.beginArray()
        while try r.nextElement() {
            out.append(try element(&self))
            dropBehind()
        }
        return out
    }

    mutating func optional<T>(_ value: (inout SummaryJSONReader) throws -> T) throws -> T? {
        try r.consumeNull() ? nil : try value(&self)
    }

    mutating func intMap() throws -> [String: Int] {
        var m: [String: Int] = [:]
        try r.beginObject()
        while let k = try r.nextKey() {
            let key = k.string
            guard m[key] == nil else { throw r.error("the key \"\(key)\" appears twice in one object", at: k.offset) }
            m[key] = try r.int()
        }
        return m
    }

    // MARK: the model, type by type

    mutating func summary() throws -> TraceSummary {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var schema: String?, file: String?, cpuHz: Double?, cpuHzSource: String?, clock: TraceClock?
        var fromTSC: UInt64?, toTSC: UInt64?, firstTSC: UInt64?, lastTSC: UInt64?, totalCycles: UInt64?
        var records: Int?, cpuChangeRecords: Int?, lostRecordEvents: Int?, lostRecords: UInt64?
        var hvmFlavour: String?, hvmFlavourReason: String?
        var pcpus: [TraceSummary.PCPU]?, domains: [TraceSummary.Domain]?, exits: [TraceSummary.ExitReason]?
        var wakeLatency: TraceSummary.Distribution?, irqVectors: [TraceSummary.IRQCount]?, irqsHandled: [TraceSummary.IRQCount]?
        var power: [TraceSummary.PowerCPU]?, top: [TraceSummary.TopDomain]?, anomalies: [Anomaly]?, diagnostics: [String]?
        while let k = try r.nextKey() {
            switch k {
            case "schema": try once(&seen, 0, k); schema = try r.string()
            case "file": try once(&seen, 1, k); file = try r.string()
            case "cpuHz": try once(&seen, 2, k); cpuHz = try r.double()
            case "cpuHzSource": try once(&seen, 3, k); cpuHzSource = try r.string()
            case "clock": try once(&seen, 4, k); clock = try optional { try $0.clock() }
            case "fromTSC": try once(&seen, 5, k); fromTSC = try optional { try $0.r.uint64() }
            case "toTSC": try once(&seen, 6, k); toTSC = try optional { try $0.r.uint64() }
            case "firstTSC": try once(&seen, 7, k); firstTSC = try r.uint64()
            case "lastTSC": try once(&seen, 8, k); lastTSC = try r.uint64()
            case "totalCycles": try once(&seen, 9, k); totalCycles = try r.uint64()
            case "records": try once(&seen, 10, k); records = try r.int()
            case "cpuChangeRecords": try once(&seen, 11, k); cpuChangeRecords = try r.int()
            case "lostRecordEvents": try once(&seen, 12, k); lostRecordEvents = try r.int()
            case "lostRecords": try once(&seen, 13, k); lostRecords = try r.uint64()
            case "hvmFlavour": try once(&seen, 14, k); hvmFlavour = try optional { try $0.r.string() }
            case "hvmFlavourReason": try once(&seen, 15, k); hvmFlavourReason = try optional { try $0.r.string() }
            case "pcpus": try once(&seen, 16, k); pcpus = try array { try $0.pcpu() }
            case "domains": try once(&seen, 17, k); domains = try array { try $0.domain() }
            case "exits": try once(&seen, 18, k); exits = try array { try $0.exitReason() }
            case "wakeLatency": try once(&seen, 19, k); wakeLatency = try optional { try $0.distribution() }
            case "irqVectors": try once(&seen, 20, k); irqVectors = try array { try $0.irq() }
            case "irqsHandled": try once(&seen, 21, k); irqsHandled = try array { try $0.irq() }
            case "power": try once(&seen, 22, k); power = try array { try $0.power() }
            case "top": try once(&seen, 23, k); top = try array { try $0.topDomain() }
            case "anomalies": try once(&seen, 24, k); anomalies = try array { try $0.anomaly() }
            case "diagnostics": try once(&seen, 25, k); diagnostics = try array { try $0.r.string() }
            default: try r.skipValue()
            }
        }
        return TraceSummary(
            schema: try need(schema, "schema", at), file: try need(file, "file", at),
            cpuHz: try need(cpuHz, "cpuHz", at), cpuHzSource: try need(cpuHzSource, "cpuHzSource", at), clock: clock,
            fromTSC: fromTSC, toTSC: toTSC,
            firstTSC: try need(firstTSC, "firstTSC", at), lastTSC: try need(lastTSC, "lastTSC", at),
            totalCycles: try need(totalCycles, "totalCycles", at), records: try need(records, "records", at),
            cpuChangeRecords: try need(cpuChangeRecords, "cpuChangeRecords", at),
            lostRecordEvents: try need(lostRecordEvents, "lostRecordEvents", at), lostRecords: try need(lostRecords, "lostRecords", at),
            hvmFlavour: hvmFlavour, hvmFlavourReason: hvmFlavourReason,
            pcpus: try need(pcpus, "pcpus", at), domains: try need(domains, "domains", at), exits: try need(exits, "exits", at),
            wakeLatency: wakeLatency, irqVectors: try need(irqVectors, "irqVectors", at),
            irqsHandled: try need(irqsHandled, "irqsHandled", at), power: try need(power, "power", at),
            top: try need(top, "top", at), anomalies: try need(anomalies, "anomalies", at),
            diagnostics: try need(diagnostics, "diagnostics", at))
    }

    mutating func clock() throws -> TraceClock {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var kind: TraceClock.Kind?, hz: Double?, hzSource: String?
        while let k = try r.nextKey() {
            switch k {
            case "kind": try once(&seen, 0, k)
                let vAt = r.valueOffset()
                let name = try r.string()
                guard let v = TraceClock.Kind(rawValue: name) else { throw r.error("unknown clock kind \"\(name)\"", at: vAt) }
                kind = v
            case "hz": try once(&seen, 1, k); hz = try r.double()
            case "hzSource": try once(&seen, 2, k); hzSource = try r.string()
            default: try r.skipValue()
            }
        }
        return TraceClock(kind: try need(kind, "kind", at), hz: try need(hz, "hz", at), hzSource: try need(hzSource, "hzSource", at))
    }

    mutating func stats() throws -> CycleStats {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var count: Int?, cycles: UInt64?, events: Int?, maxCycles: UInt64?, minCycles: UInt64?
        while let k = try r.nextKey() {
            switch k {
            case "count": try once(&seen, 0, k); count = try r.int()
            case "cycles": try once(&seen, 1, k); cycles = try r.uint64()
            case "events": try once(&seen, 2, k); events = try r.int()
            case "maxCycles": try once(&seen, 3, k); maxCycles = try r.uint64()
            case "minCycles": try once(&seen, 4, k); minCycles = try r.uint64()
            default: try r.skipValue()
            }
        }
        var c = CycleStats()
        c.count = try need(count, "count", at)
        c.cycles = try need(cycles, "cycles", at)
        c.events = try need(events, "events", at)
        c.maxCycles = try need(maxCycles, "maxCycles", at)
        c.minCycles = try need(minCycles, "minCycles", at)
        return c
    }

    mutating func distribution() throws -> TraceSummary.Distribution {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var count: UInt64?, percentiles: Percentiles?, bins: [HistogramBin]?
        while let k = try r.nextKey() {
            switch k {
            case "count": try once(&seen, 0, k); count = try r.uint64()
            case "bins": try once(&seen, 1, k); bins = try array { try $0.bin() }
            case "percentiles": try once(&seen, 2, k)
                let pAt = try r.beginObject()
                var pSeen: UInt64 = 0
                var p50: UInt64?, p90: UInt64?, p99: UInt64?, max: UInt64?
                while let k = try r.nextKey() {
                    switch k {
                    case "p50": try once(&pSeen, 0, k); p50 = try r.uint64()
                    case "p90": try once(&pSeen, 1, k); p90 = try r.uint64()
                    case "p99": try once(&pSeen, 2, k); p99 = try r.uint64()
                    case "max": try once(&pSeen, 3, k); max = try r.uint64()
                    default: try r.skipValue()
                    }
                }
                percentiles = Percentiles(p50: try need(p50, "p50", pAt), p90: try need(p90, "p90", pAt),
                                          p99: try need(p99, "p99", pAt), max: try need(max, "max", pAt))
            default: try r.skipValue()
            }
        }
        return TraceSummary.Distribution(count: try need(count, "count", at), percentiles: try need(percentiles, "percentiles", at),
                                         bins: try need(bins, "bins", at))
    }

    mutating func bin() throws -> HistogramBin {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var low: UInt64?, high: UInt64?, count: UInt64?
        while let k = try r.nextKey() {
            switch k {
            case "low": try once(&seen, 0, k); low = try r.uint64()
            case "high": try once(&seen, 1, k); high = try r.uint64()
            case "count": try once(&seen, 2, k); count = try r.uint64()
            default: try r.skipValue()
            }
        }
        return HistogramBin(low: try need(low, "low", at), high: try need(high, "high", at), count: try need(count, "count", at))
    }

    mutating func pcpu() throws -> TraceSummary.PCPU {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var cpu: Int?, records: Int?, bytes: Int?, firstTSC: UInt64?, lastTSC: UInt64?, classBytes: [String: Int]?
        var lostRecordEvents: Int?, lostRecords: UInt64?, lostCycles: UInt64?, runningCycles: UInt64?, idleCycles: UInt64?
        var contextSwitches: Int?
        while let k = try r.nextKey() {
            switch k {
            case "cpu": try once(&seen, 0, k); cpu = try r.int()
            case "records": try once(&seen, 1, k); records = try r.int()
            case "bytes": try once(&seen, 2, k); bytes = try r.int()
            case "firstTSC": try once(&seen, 3, k); firstTSC = try r.uint64()
            case "lastTSC": try once(&seen, 4, k); lastTSC = try r.uint64()
            case "classBytes": try once(&seen, 5, k); classBytes = try intMap()
            case "lostRecordEvents": try once(&seen, 6, k); lostRecordEvents = try r.int()
            case "lostRecords": try once(&seen, 7, k); lostRecords = try r.uint64()
            case "lostCycles": try once(&seen, 8, k); lostCycles = try r.uint64()
            case "runningCycles": try once(&seen, 9, k); runningCycles = try r.uint64()
            case "idleCycles": try once(&seen, 10, k); idleCycles = try r.uint64()
            case "contextSwitches": try once(&seen, 11, k); contextSwitches = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.PCPU(
            cpu: try need(cpu, "cpu", at), records: try need(records, "records", at), bytes: try need(bytes, "bytes", at),
            firstTSC: try need(firstTSC, "firstTSC", at), lastTSC: try need(lastTSC, "lastTSC", at),
            classBytes: try need(classBytes, "classBytes", at), lostRecordEvents: try need(lostRecordEvents, "lostRecordEvents", at),
            lostRecords: try need(lostRecords, "lostRecords", at), lostCycles: try need(lostCycles, "lostCycles", at),
            runningCycles: try need(runningCycles, "runningCycles", at), idleCycles: try need(idleCycles, "idleCycles", at),
            contextSwitches: try need(contextSwitches, "contextSwitches", at))
    }

    mutating func domain() throws -> TraceSummary.Domain {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var domain: Int?, name: String?, runningCycles: UInt64?, vcpus: [TraceSummary.VCPU]?
        var hypercalls: [TraceSummary.Hypercall]?, wakeLatency: TraceSummary.Distribution?
        while let k = try r.nextKey() {
            switch k {
            case "domain": try once(&seen, 0, k); domain = try r.int()
            case "name": try once(&seen, 1, k); name = try r.string()
            case "runningCycles": try once(&seen, 2, k); runningCycles = try r.uint64()
            case "vcpus": try once(&seen, 3, k); vcpus = try array { try $0.vcpu() }
            case "hypercalls": try once(&seen, 4, k); hypercalls = try array { try $0.hypercall() }
            case "wakeLatency": try once(&seen, 5, k); wakeLatency = try optional { try $0.distribution() }
            default: try r.skipValue()
            }
        }
        return TraceSummary.Domain(domain: try need(domain, "domain", at), name: try need(name, "name", at),
                                   runningCycles: try need(runningCycles, "runningCycles", at), vcpus: try need(vcpus, "vcpus", at),
                                   hypercalls: try need(hypercalls, "hypercalls", at), wakeLatency: wakeLatency)
    }

    mutating func vcpu() throws -> TraceSummary.VCPU {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var vcpu: Int?, kind: String?, runstates: [TraceSummary.Runstate]?
        var afterWake: CycleStats?, afterPreempt: CycleStats?, other: CycleStats?
        var runs: Int?, migrations: Int?, exits: [TraceSummary.VCPUExit]?, pv: TraceSummary.PVCounts?
        while let k = try r.nextKey() {
            switch k {
            case "vcpu": try once(&seen, 0, k); vcpu = try r.int()
            case "kind": try once(&seen, 1, k); kind = try r.string()
            case "runstates": try once(&seen, 2, k); runstates = try array { try $0.runstate() }
            case "runnableAfterWake": try once(&seen, 3, k); afterWake = try stats()
            case "runnableAfterPreempt": try once(&seen, 4, k); afterPreempt = try stats()
            case "runnableOther": try once(&seen, 5, k); other = try stats()
            case "runs": try once(&seen, 6, k); runs = try r.int()
            case "migrations": try once(&seen, 7, k); migrations = try r.int()
            case "exits": try once(&seen, 8, k); exits = try array { try $0.vcpuExit() }
            case "pv": try once(&seen, 9, k); pv = try optional { try $0.pvCounts() }
            default: try r.skipValue()
            }
        }
        return TraceSummary.VCPU(
            vcpu: try need(vcpu, "vcpu", at), kind: try need(kind, "kind", at), runstates: try need(runstates, "runstates", at),
            runnableAfterWake: try need(afterWake, "runnableAfterWake", at),
            runnableAfterPreempt: try need(afterPreempt, "runnableAfterPreempt", at),
            runnableOther: try need(other, "runnableOther", at), runs: try need(runs, "runs", at),
            migrations: try need(migrations, "migrations", at), exits: try need(exits, "exits", at), pv: pv)
    }

    mutating func runstate() throws -> TraceSummary.Runstate {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var state: String?, stats: CycleStats?
        while let k = try r.nextKey() {
            switch k {
            case "state": try once(&seen, 0, k); state = try r.string()
            case "stats": try once(&seen, 1, k); stats = try self.stats()
            default: try r.skipValue()
            }
        }
        return TraceSummary.Runstate(state: try need(state, "state", at), stats: try need(stats, "stats", at))
    }

    mutating func vcpuExit() throws -> TraceSummary.VCPUExit {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var reason: Int?, name: String?, stats: CycleStats?
        while let k = try r.nextKey() {
            switch k {
            case "reason": try once(&seen, 0, k); reason = try r.int()
            case "name": try once(&seen, 1, k); name = try r.string()
            case "stats": try once(&seen, 2, k); stats = try self.stats()
            default: try r.skipValue()
            }
        }
        return TraceSummary.VCPUExit(reason: try need(reason, "reason", at), name: try need(name, "name", at),
                                     stats: try need(stats, "stats", at))
    }

    mutating func exitReason() throws -> TraceSummary.ExitReason {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var reason: Int?, name: String?, stats: CycleStats?, distribution: TraceSummary.Distribution?
        var topRIPs: [TraceSummary.RIPCount]?
        while let k = try r.nextKey() {
            switch k {
            case "reason": try once(&seen, 0, k); reason = try r.int()
            case "name": try once(&seen, 1, k); name = try r.string()
            case "stats": try once(&seen, 2, k); stats = try self.stats()
            case "distribution": try once(&seen, 3, k); distribution = try self.distribution()
            case "topRIPs": try once(&seen, 4, k); topRIPs = try array { try $0.ripCount() }
            default: try r.skipValue()
            }
        }
        return TraceSummary.ExitReason(reason: try need(reason, "reason", at), name: try need(name, "name", at),
                                       stats: try need(stats, "stats", at),
                                       distribution: try need(distribution, "distribution", at),
                                       topRIPs: try need(topRIPs, "topRIPs", at))
    }

    mutating func ripCount() throws -> TraceSummary.RIPCount {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var rip: UInt64?, count: Int?
        while let k = try r.nextKey() {
            switch k {
            case "rip": try once(&seen, 0, k); rip = try r.uint64()
            case "count": try once(&seen, 1, k); count = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.RIPCount(rip: try need(rip, "rip", at), count: try need(count, "count", at))
    }

    mutating func hypercall() throws -> TraceSummary.Hypercall {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var op: Int?, name: String?, count: Int?
        while let k = try r.nextKey() {
            switch k {
            case "op": try once(&seen, 0, k); op = try r.int()
            case "name": try once(&seen, 1, k); name = try r.string()
            case "count": try once(&seen, 2, k); count = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.Hypercall(op: try need(op, "op", at), name: try need(name, "name", at), count: try need(count, "count", at))
    }

    mutating func pvCounts() throws -> TraceSummary.PVCounts {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var events: [String: Int]?, hypercalls: [TraceSummary.Hypercall]?, subcalls: Int?
        while let k = try r.nextKey() {
            switch k {
            case "events": try once(&seen, 0, k); events = try intMap()
            case "hypercalls": try once(&seen, 1, k); hypercalls = try array { try $0.hypercall() }
            case "subcalls": try once(&seen, 2, k); subcalls = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.PVCounts(events: try need(events, "events", at), hypercalls: try need(hypercalls, "hypercalls", at),
                                     subcalls: try need(subcalls, "subcalls", at))
    }

    mutating func irq() throws -> TraceSummary.IRQCount {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var cpu: Int?, number: Int?, count: Int?
        while let k = try r.nextKey() {
            switch k {
            case "cpu": try once(&seen, 0, k); cpu = try r.int()
            case "number": try once(&seen, 1, k); number = try r.int()
            case "count": try once(&seen, 2, k); count = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.IRQCount(cpu: try need(cpu, "cpu", at), number: try need(number, "number", at), count: try need(count, "count", at))
    }

    mutating func power() throws -> TraceSummary.PowerCPU {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var cpu: Int?, cstates: [TraceSummary.StateResidency]?, pstates: [TraceSummary.StateResidency]?
        while let k = try r.nextKey() {
            switch k {
            case "cpu": try once(&seen, 0, k); cpu = try r.int()
            case "cstates": try once(&seen, 1, k); cstates = try array { try $0.residency() }
            case "pstates": try once(&seen, 2, k); pstates = try array { try $0.residency() }
            default: try r.skipValue()
            }
        }
        return TraceSummary.PowerCPU(cpu: try need(cpu, "cpu", at), cstates: try need(cstates, "cstates", at),
                                     pstates: try need(pstates, "pstates", at))
    }

    mutating func residency() throws -> TraceSummary.StateResidency {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var state: Int?, stats: CycleStats?
        while let k = try r.nextKey() {
            switch k {
            case "state": try once(&seen, 0, k); state = try r.int()
            case "stats": try once(&seen, 1, k); stats = try self.stats()
            default: try r.skipValue()
            }
        }
        return TraceSummary.StateResidency(state: try need(state, "state", at), stats: try need(stats, "stats", at))
    }

    mutating func topDomain() throws -> TraceSummary.TopDomain {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var domain: Int?, runningCycles: UInt64?, share: Double?
        while let k = try r.nextKey() {
            switch k {
            case "domain": try once(&seen, 0, k); domain = try r.int()
            case "runningCycles": try once(&seen, 1, k); runningCycles = try r.uint64()
            case "share": try once(&seen, 2, k); share = try r.double()
            default: try r.skipValue()
            }
        }
        return TraceSummary.TopDomain(domain: try need(domain, "domain", at), runningCycles: try need(runningCycles, "runningCycles", at),
                                      share: try need(share, "share", at))
    }

    mutating func anomaly() throws -> Anomaly {
        let at = try r.beginObject()
        var seen: UInt64 = 0
        var kind: String?, count: Int?, offsets: [Int]?, example: String?
        while let k = try r.nextKey() {
            switch k {
            case "kind": try once(&seen, 0, k); kind = try r.string()
            case "count": try once(&seen, 1, k); count = try r.int()
            case "offsets": try once(&seen, 2, k); offsets = try array { try $0.r.int() }
            case "example": try once(&seen, 3, k); example = try r.string()
            default: try r.skipValue()
            }
        }
        return Anomaly(kind: try need(kind, "kind", at), count: try need(count, "count", at),
                       offsets: try need(offsets, "offsets", at), example: try need(example, "example", at))
    }
}

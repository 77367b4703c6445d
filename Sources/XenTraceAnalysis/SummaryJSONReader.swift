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

    init(_ bytes: UnsafeRawBufferPointer, file: String, mapped: MappedFile? = nil) {
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
        while let k = try r.nextKey() { m[k.string] = try r.int() }
        return m
    }

    // MARK: the model, type by type

    mutating func summary() throws -> TraceSummary {
        let at = try r.beginObject()
        var schema: String?, file: String?, cpuHz: Double?, cpuHzSource: String?, clock: TraceClock?
        var fromTSC: UInt64?, toTSC: UInt64?, firstTSC: UInt64?, lastTSC: UInt64?, totalCycles: UInt64?
        var records: Int?, cpuChangeRecords: Int?, lostRecordEvents: Int?, lostRecords: UInt64?
        var hvmFlavour: String?, hvmFlavourReason: String?
        var pcpus: [TraceSummary.PCPU]?, domains: [TraceSummary.Domain]?, exits: [TraceSummary.ExitReason]?
        var wakeLatency: TraceSummary.Distribution?, irqVectors: [TraceSummary.IRQCount]?, irqsHandled: [TraceSummary.IRQCount]?
        var power: [TraceSummary.PowerCPU]?, top: [TraceSummary.TopDomain]?, anomalies: [Anomaly]?, diagnostics: [String]?
        while let k = try r.nextKey() {
            switch k {
            case "schema": schema = try r.string()
            case "file": file = try r.string()
            case "cpuHz": cpuHz = try r.double()
            case "cpuHzSource": cpuHzSource = try r.string()
            case "clock": clock = try optional { try $0.clock() }
            case "fromTSC": fromTSC = try optional { try $0.r.uint64() }
            case "toTSC": toTSC = try optional { try $0.r.uint64() }
            case "firstTSC": firstTSC = try r.uint64()
            case "lastTSC": lastTSC = try r.uint64()
            case "totalCycles": totalCycles = try r.uint64()
            case "records": records = try r.int()
            case "cpuChangeRecords": cpuChangeRecords = try r.int()
            case "lostRecordEvents": lostRecordEvents = try r.int()
            case "lostRecords": lostRecords = try r.uint64()
            case "hvmFlavour": hvmFlavour = try optional { try $0.r.string() }
            case "hvmFlavourReason": hvmFlavourReason = try optional { try $0.r.string() }
            case "pcpus": pcpus = try array { try $0.pcpu() }
            case "domains": domains = try array { try $0.domain() }
            case "exits": exits = try array { try $0.exitReason() }
            case "wakeLatency": wakeLatency = try optional { try $0.distribution() }
            case "irqVectors": irqVectors = try array { try $0.irq() }
            case "irqsHandled": irqsHandled = try array { try $0.irq() }
            case "power": power = try array { try $0.power() }
            case "top": top = try array { try $0.topDomain() }
            case "anomalies": anomalies = try array { try $0.anomaly() }
            case "diagnostics": diagnostics = try array { try $0.r.string() }
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
        var kind: TraceClock.Kind?, hz: Double?, hzSource: String?
        while let k = try r.nextKey() {
            switch k {
            case "kind":
                let vAt = r.valueOffset()
                let name = try r.string()
                guard let v = TraceClock.Kind(rawValue: name) else { throw r.error("unknown clock kind \"\(name)\"", at: vAt) }
                kind = v
            case "hz": hz = try r.double()
            case "hzSource": hzSource = try r.string()
            default: try r.skipValue()
            }
        }
        return TraceClock(kind: try need(kind, "kind", at), hz: try need(hz, "hz", at), hzSource: try need(hzSource, "hzSource", at))
    }

    mutating func stats() throws -> CycleStats {
        let at = try r.beginObject()
        var count: Int?, cycles: UInt64?, events: Int?, maxCycles: UInt64?, minCycles: UInt64?
        while let k = try r.nextKey() {
            switch k {
            case "count": count = try r.int()
            case "cycles": cycles = try r.uint64()
            case "events": events = try r.int()
            case "maxCycles": maxCycles = try r.uint64()
            case "minCycles": minCycles = try r.uint64()
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
        var count: UInt64?, percentiles: Percentiles?, bins: [HistogramBin]?
        while let k = try r.nextKey() {
            switch k {
            case "count": count = try r.uint64()
            case "bins": bins = try array { try $0.bin() }
            case "percentiles":
                let pAt = try r.beginObject()
                var p50: UInt64?, p90: UInt64?, p99: UInt64?, max: UInt64?
                while let k = try r.nextKey() {
                    switch k {
                    case "p50": p50 = try r.uint64()
                    case "p90": p90 = try r.uint64()
                    case "p99": p99 = try r.uint64()
                    case "max": max = try r.uint64()
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
        var low: UInt64?, high: UInt64?, count: UInt64?
        while let k = try r.nextKey() {
            switch k {
            case "low": low = try r.uint64()
            case "high": high = try r.uint64()
            case "count": count = try r.uint64()
            default: try r.skipValue()
            }
        }
        return HistogramBin(low: try need(low, "low", at), high: try need(high, "high", at), count: try need(count, "count", at))
    }

    mutating func pcpu() throws -> TraceSummary.PCPU {
        let at = try r.beginObject()
        var cpu: Int?, records: Int?, bytes: Int?, firstTSC: UInt64?, lastTSC: UInt64?, classBytes: [String: Int]?
        var lostRecordEvents: Int?, lostRecords: UInt64?, lostCycles: UInt64?, runningCycles: UInt64?, idleCycles: UInt64?
        var contextSwitches: Int?
        while let k = try r.nextKey() {
            switch k {
            case "cpu": cpu = try r.int()
            case "records": records = try r.int()
            case "bytes": bytes = try r.int()
            case "firstTSC": firstTSC = try r.uint64()
            case "lastTSC": lastTSC = try r.uint64()
            case "classBytes": classBytes = try intMap()
            case "lostRecordEvents": lostRecordEvents = try r.int()
            case "lostRecords": lostRecords = try r.uint64()
            case "lostCycles": lostCycles = try r.uint64()
            case "runningCycles": runningCycles = try r.uint64()
            case "idleCycles": idleCycles = try r.uint64()
            case "contextSwitches": contextSwitches = try r.int()
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
        var domain: Int?, name: String?, runningCycles: UInt64?, vcpus: [TraceSummary.VCPU]?
        var hypercalls: [TraceSummary.Hypercall]?, wakeLatency: TraceSummary.Distribution?
        while let k = try r.nextKey() {
            switch k {
            case "domain": domain = try r.int()
            case "name": name = try r.string()
            case "runningCycles": runningCycles = try r.uint64()
            case "vcpus": vcpus = try array { try $0.vcpu() }
            case "hypercalls": hypercalls = try array { try $0.hypercall() }
            case "wakeLatency": wakeLatency = try optional { try $0.distribution() }
            default: try r.skipValue()
            }
        }
        return TraceSummary.Domain(domain: try need(domain, "domain", at), name: try need(name, "name", at),
                                   runningCycles: try need(runningCycles, "runningCycles", at), vcpus: try need(vcpus, "vcpus", at),
                                   hypercalls: try need(hypercalls, "hypercalls", at), wakeLatency: wakeLatency)
    }

    mutating func vcpu() throws -> TraceSummary.VCPU {
        let at = try r.beginObject()
        var vcpu: Int?, kind: String?, runstates: [TraceSummary.Runstate]?
        var afterWake: CycleStats?, afterPreempt: CycleStats?, other: CycleStats?
        var runs: Int?, migrations: Int?, exits: [TraceSummary.VCPUExit]?, pv: TraceSummary.PVCounts?
        while let k = try r.nextKey() {
            switch k {
            case "vcpu": vcpu = try r.int()
            case "kind": kind = try r.string()
            case "runstates": runstates = try array { try $0.runstate() }
            case "runnableAfterWake": afterWake = try stats()
            case "runnableAfterPreempt": afterPreempt = try stats()
            case "runnableOther": other = try stats()
            case "runs": runs = try r.int()
            case "migrations": migrations = try r.int()
            case "exits": exits = try array { try $0.vcpuExit() }
            case "pv": pv = try optional { try $0.pvCounts() }
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
        var state: String?, stats: CycleStats?
        while let k = try r.nextKey() {
            switch k {
            case "state": state = try r.string()
            case "stats": stats = try self.stats()
            default: try r.skipValue()
            }
        }
        return TraceSummary.Runstate(state: try need(state, "state", at), stats: try need(stats, "stats", at))
    }

    mutating func vcpuExit() throws -> TraceSummary.VCPUExit {
        let at = try r.beginObject()
        var reason: Int?, name: String?, stats: CycleStats?
        while let k = try r.nextKey() {
            switch k {
            case "reason": reason = try r.int()
            case "name": name = try r.string()
            case "stats": stats = try self.stats()
            default: try r.skipValue()
            }
        }
        return TraceSummary.VCPUExit(reason: try need(reason, "reason", at), name: try need(name, "name", at),
                                     stats: try need(stats, "stats", at))
    }

    mutating func exitReason() throws -> TraceSummary.ExitReason {
        let at = try r.beginObject()
        var reason: Int?, name: String?, stats: CycleStats?, distribution: TraceSummary.Distribution?
        var topRIPs: [TraceSummary.RIPCount]?
        while let k = try r.nextKey() {
            switch k {
            case "reason": reason = try r.int()
            case "name": name = try r.string()
            case "stats": stats = try self.stats()
            case "distribution": distribution = try self.distribution()
            case "topRIPs": topRIPs = try array { try $0.ripCount() }
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
        var rip: UInt64?, count: Int?
        while let k = try r.nextKey() {
            switch k {
            case "rip": rip = try r.uint64()
            case "count": count = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.RIPCount(rip: try need(rip, "rip", at), count: try need(count, "count", at))
    }

    mutating func hypercall() throws -> TraceSummary.Hypercall {
        let at = try r.beginObject()
        var op: Int?, name: String?, count: Int?
        while let k = try r.nextKey() {
            switch k {
            case "op": op = try r.int()
            case "name": name = try r.string()
            case "count": count = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.Hypercall(op: try need(op, "op", at), name: try need(name, "name", at), count: try need(count, "count", at))
    }

    mutating func pvCounts() throws -> TraceSummary.PVCounts {
        let at = try r.beginObject()
        var events: [String: Int]?, hypercalls: [TraceSummary.Hypercall]?, subcalls: Int?
        while let k = try r.nextKey() {
            switch k {
            case "events": events = try intMap()
            case "hypercalls": hypercalls = try array { try $0.hypercall() }
            case "subcalls": subcalls = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.PVCounts(events: try need(events, "events", at), hypercalls: try need(hypercalls, "hypercalls", at),
                                     subcalls: try need(subcalls, "subcalls", at))
    }

    mutating func irq() throws -> TraceSummary.IRQCount {
        let at = try r.beginObject()
        var cpu: Int?, number: Int?, count: Int?
        while let k = try r.nextKey() {
            switch k {
            case "cpu": cpu = try r.int()
            case "number": number = try r.int()
            case "count": count = try r.int()
            default: try r.skipValue()
            }
        }
        return TraceSummary.IRQCount(cpu: try need(cpu, "cpu", at), number: try need(number, "number", at), count: try need(count, "count", at))
    }

    mutating func power() throws -> TraceSummary.PowerCPU {
        let at = try r.beginObject()
        var cpu: Int?, cstates: [TraceSummary.StateResidency]?, pstates: [TraceSummary.StateResidency]?
        while let k = try r.nextKey() {
            switch k {
            case "cpu": cpu = try r.int()
            case "cstates": cstates = try array { try $0.residency() }
            case "pstates": pstates = try array { try $0.residency() }
            default: try r.skipValue()
            }
        }
        return TraceSummary.PowerCPU(cpu: try need(cpu, "cpu", at), cstates: try need(cstates, "cstates", at),
                                     pstates: try need(pstates, "pstates", at))
    }

    mutating func residency() throws -> TraceSummary.StateResidency {
        let at = try r.beginObject()
        var state: Int?, stats: CycleStats?
        while let k = try r.nextKey() {
            switch k {
            case "state": state = try r.int()
            case "stats": stats = try self.stats()
            default: try r.skipValue()
            }
        }
        return TraceSummary.StateResidency(state: try need(state, "state", at), stats: try need(stats, "stats", at))
    }

    mutating func topDomain() throws -> TraceSummary.TopDomain {
        let at = try r.beginObject()
        var domain: Int?, runningCycles: UInt64?, share: Double?
        while let k = try r.nextKey() {
            switch k {
            case "domain": domain = try r.int()
            case "runningCycles": runningCycles = try r.uint64()
            case "share": share = try r.double()
            default: try r.skipValue()
            }
        }
        return TraceSummary.TopDomain(domain: try need(domain, "domain", at), runningCycles: try need(runningCycles, "runningCycles", at),
                                      share: try need(share, "share", at))
    }

    mutating func anomaly() throws -> Anomaly {
        let at = try r.beginObject()
        var kind: String?, count: Int?, offsets: [Int]?, example: String?
        while let k = try r.nextKey() {
            switch k {
            case "kind": kind = try r.string()
            case "count": count = try r.int()
            case "offsets": offsets = try array { try $0.r.int() }
            case "example": example = try r.string()
            default: try r.skipValue()
            }
        }
        return Anomaly(kind: try need(kind, "kind", at), count: try need(count, "count", at),
                       offsets: try need(offsets, "offsets", at), example: try need(example, "example", at))
    }
}

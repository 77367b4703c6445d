/// Per-CPU facts about a trace file, gathered in one pass (`xenscope trace info`).
public struct TraceInfo: Sendable {
    /// Facts about one physical CPU's stream.
    public struct CPU: Sendable, Equatable {
        public var cpu: UInt32
        /// Records attributed to this CPU, its CPU-change records included.
        public var records = 0
        public var bytes = 0
        public var firstTSC: UInt64 = 0
        public var lastTSC: UInt64 = 0
        public var cpuChangeRecords = 0
        public var wrapRecords = 0
        /// TRC_LOST_RECORDS records, and the number of records they say were lost.
        public var lostRecordEvents = 0
        public var lostRecords: UInt64 = 0
    }
    public var cpus: [CPU] = []
    public var eventCounts: [UInt32: Int] = [:]
    public var diagnostics: [TraceDiagnostic] = []
    public var totalRecords: Int { cpus.reduce(0) { $0 + $1.records } }
    public var cpuChangeRecords: Int { cpus.reduce(0) { $0 + $1.cpuChangeRecords } }

    public init(_ trace: TraceFile) {
        var byCPU: [UInt32: CPU] = [:]
        var counts: [UInt32: Int] = [:]
        diagnostics = trace.forEachRecord { r in
            counts[r.event, default: 0] += 1
            var c = byCPU[r.cpu] ?? CPU(cpu: r.cpu)
            c.records += 1
            c.bytes += r.size
            if r.hasTSC {
                if c.firstTSC == 0 { c.firstTSC = r.tsc }
                c.lastTSC = r.tsc
            }
            switch r.event {
            case EventID.cpuChange: c.cpuChangeRecords += 1
            case EventID.wrapBuffer: c.wrapRecords += 1
            case EventID.lostRecords:
                c.lostRecordEvents += 1
                c.lostRecords += UInt64(r.extra.w0)
            default: break
            }
            byCPU[r.cpu] = c
            return true
        }
        cpus = byCPU.values.sorted { $0.cpu < $1.cpu }
        eventCounts = counts
    }
}

/// Per-CPU facts about a trace, gathered in one pass (`xenscope trace info`).
public struct TraceInfo: Sendable {
    /// Facts about one physical CPU's stream.
    public struct CPU: Sendable, Equatable {
        public var cpu: UInt32
        /// Records attributed to this CPU, its CPU-change records included.
        public var records = 0
        /// Bytes of those records.
        public var bytes = 0
        /// First and last TSC carried by a record of this CPU (0 if none).
        public var firstTSC: UInt64 = 0
        public var lastTSC: UInt64 = 0
        /// Windows (CPU-change records) of this CPU.
        public var cpuChangeRecords = 0
        /// TRC_TRACE_WRAP_BUFFER padding records.
        public var wrapRecords = 0
        /// TRC_LOST_RECORDS records, and the number of records they say were lost.
        public var lostRecordEvents = 0
        public var lostRecords: UInt64 = 0

        public init(cpu: UInt32) { self.cpu = cpu }
    }
    /// The CPUs that have records, by number.
    public var cpus: [CPU] = []
    /// Records per event id.
    public var eventCounts: [UInt32: Int] = [:]
    /// Damage found while reading, sorted by offset.
    public var diagnostics: [TraceDiagnostic] = []
    public var totalRecords: Int { cpus.reduce(0) { $0 + $1.records } }
    public var totalBytes: Int { cpus.reduce(0) { $0 + $1.bytes } }
    public var cpuChangeRecords: Int { cpus.reduce(0) { $0 + $1.cpuChangeRecords } }
    public var wrapRecords: Int { cpus.reduce(0) { $0 + $1.wrapRecords } }
    public var lostRecordEvents: Int { cpus.reduce(0) { $0 + $1.lostRecordEvents } }
    public var lostRecords: UInt64 { cpus.reduce(0) { $0 + $1.lostRecords } }
    /// Smallest first TSC and largest last TSC over the CPUs that have one.
    public var firstTSC: UInt64 { cpus.filter { $0.firstTSC != 0 }.map(\.firstTSC).min() ?? 0 }
    public var lastTSC: UInt64 { cpus.map(\.lastTSC).max() ?? 0 }

    public init() {}

    /// Reads `trace` in file order.
    public init(_ trace: TraceFile) {
        var acc = Accumulator()
        let d = trace.forEachRecord { acc.add($0); return true }
        acc.flushEvent()
        self.init(acc)
        diagnostics = d
    }

    /// Reads `input` (file, stream or compressed) in `order`; the figures do
    /// not depend on the order, which only exercises the other reader.
    public init(_ input: TraceInput, order: RecordOrder = .file) throws {
        var acc = Accumulator()
        let d = try input.forEachRecord(order: order) { acc.add($0); return true }
        acc.flushEvent()
        self.init(acc)
        diagnostics = d
    }

    private init(_ acc: Accumulator) {
        cpus = acc.cpus.compactMap { $0 }
        eventCounts = acc.eventCounts
    }

    /// Counts records without hashing per record: CPUs by array index, events
    /// through a one-entry cache in front of the dictionary.
    struct Accumulator {
        var cpus: [CPU?] = []
        var eventCounts: [UInt32: Int] = [:]
        var lastEvent: UInt32 = 0xffff_ffff
        var lastEventCount = 0

        mutating func add(_ r: TraceRecord) {
            let e = r.event
            if e == lastEvent {
                lastEventCount += 1
            } else {
                flushEvent()
                lastEvent = e
                lastEventCount = 1
            }
            let i = Int(r.cpu)
            if i >= cpus.count { cpus.append(contentsOf: repeatElement(nil, count: i + 1 - cpus.count)) }
            if cpus[i] == nil { cpus[i] = CPU(cpu: r.cpu) }
            cpus[i]!.records += 1
            cpus[i]!.bytes += r.size
            if r.hasTSC {
                if cpus[i]!.firstTSC == 0 { cpus[i]!.firstTSC = r.tsc }
                cpus[i]!.lastTSC = r.tsc
            }
            switch e {
            case EventID.cpuChange: cpus[i]!.cpuChangeRecords += 1
            case EventID.wrapBuffer: cpus[i]!.wrapRecords += 1
            case EventID.lostRecords:
                cpus[i]!.lostRecordEvents += 1
                cpus[i]!.lostRecords += UInt64(r.extra.w0)
            default: break
            }
        }

        mutating func flushEvent() {
            if lastEventCount > 0 { eventCounts[lastEvent, default: 0] += lastEventCount }
            lastEventCount = 0
        }
    }
}

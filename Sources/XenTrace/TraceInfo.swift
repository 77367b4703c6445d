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
        let d = try (order == .file ? input.countRecords(&acc) : nil)
            ?? input.forEachRecord(order: order) { acc.add($0); return true }
        acc.flushEvent()
        self.init(acc)
        diagnostics = d
    }

    private init(_ acc: Accumulator) {
        cpus = acc.cpus.compactMap { $0 }
        eventCounts = acc.eventCounts
    }

    /// Counts records cheaply: the current CPU's figures in a local struct
    /// (records arrive window by window), events in a small open-addressing
    /// table instead of a dictionary.
    struct Accumulator {
        var cpus: [CPU?] = []
        var cur = CPU(cpu: 0)
        var curIndex = -1
        var keys = [UInt32](repeating: Accumulator.empty, count: 256)
        var values = [Int](repeating: 0, count: 256)
        var used = 0
        static let empty: UInt32 = 0xffff_ffff
        var eventCounts: [UInt32: Int] = [:]

        @inline(__always)
        mutating func add(_ r: TraceRecord) {
            let c = Int(r.cpu)
            if c != curIndex { switchCPU(c) }
            tally(r.event, size: r.size, hasTSC: r.hasTSC, tsc: r.tsc, w0: r.extra.w0)
        }

        /// The counting fast path over the rest of the current window (CPU
        /// already selected): one tight loop over the mapped bytes, with the
        /// event table reached through buffer pointers (an array element
        /// update per record paid a uniqueness check each time, the largest
        /// cost of `trace info`), and the CPU's figures kept in locals:
        /// records and bytes are added once per window.
        @inline(__always)
        mutating func countWindow(_ core: inout ScanCore, _ b: UnsafeRawBufferPointer, _ pos: inout Int) {
            while true {
                let start = pos
                var n = 0
                var first = cur.firstTSC, last = cur.lastTSC
                var full = false
                var used = self.used
                var special: [(UInt32, UInt32)] = []
                keys.withUnsafeMutableBufferPointer { k in
                    values.withUnsafeMutableBufferPointer { v in
                        let mask = k.count - 1
                        core.countInWindow(b, &pos) { h, tsc, w0 in
                            n += 1
                            if h & 0x8000_0000 != 0 {
                                if first == 0 { first = tsc }
                                last = tsc
                            }
                            let e = h & 0x0fff_ffff
                            if e & 0x0fff_f000 == 0x0001_f000 { special.append((e, w0)) }
                            var i = Int(truncatingIfNeeded: (e &* 0x9e37_79b1) >> 16) & mask
                            while true {
                                let key = k[i]
                                if key == e { v[i] += 1; break }
                                if key == Accumulator.empty {
                                    k[i] = e
                                    v[i] = 1
                                    used += 1
                                    // Grow outside the pointers' lifetime: stop after this record.
                                    if used * 2 > k.count { full = true }
                                    break
                                }
                                i = (i + 1) & mask
                            }
                            return !full
                        }
                    }
                }
                self.used = used
                cur.records += n
                cur.bytes += pos - start
                cur.firstTSC = first
                cur.lastTSC = last
                for (e, w0) in special {
                    switch e {
                    case EventID.cpuChange: cur.cpuChangeRecords += 1
                    case EventID.wrapBuffer: cur.wrapRecords += 1
                    case EventID.lostRecords:
                        cur.lostRecordEvents += 1
                        cur.lostRecords += UInt64(w0)
                    default: break
                    }
                }
                guard full else { return }
                grow()
            }
        }

        /// Counts event `e` and adds one record to the current CPU's figures;
        /// `w0` is the first extra word (a LOST_RECORDS record's count).
        @inline(__always)
        mutating func tally(_ e: UInt32, size: Int, hasTSC: Bool, tsc: UInt64, w0: UInt32) {
            var i = Int(truncatingIfNeeded: (e &* 0x9e37_79b1) >> 16) & (keys.count - 1)
            while true {
                let k = keys[i]
                if k == e { values[i] += 1; break }
                if k == Accumulator.empty {
                    keys[i] = e
                    values[i] = 1
                    used += 1
                    if used * 2 > keys.count { grow() }
                    break
                }
                i = (i + 1) & (keys.count - 1)
            }
            cur.records += 1
            cur.bytes += size
            if hasTSC {
                if cur.firstTSC == 0 { cur.firstTSC = tsc }
                cur.lastTSC = tsc
            }
            if e & 0x0fff_f000 == 0x0001_f000 {
                switch e {
                case EventID.cpuChange: cur.cpuChangeRecords += 1
                case EventID.wrapBuffer: cur.wrapRecords += 1
                case EventID.lostRecords:
                    cur.lostRecordEvents += 1
                    cur.lostRecords += UInt64(w0)
                default: break
                }
            }
        }

        mutating func switchCPU(_ c: Int) {
            if curIndex >= 0 { cpus[curIndex] = cur }
            if c >= cpus.count { cpus.append(contentsOf: repeatElement(nil, count: c + 1 - cpus.count)) }
            cur = cpus[c] ?? CPU(cpu: UInt32(c))
            curIndex = c
        }

        mutating func grow() {
            let oldKeys = keys, oldValues = values
            keys = [UInt32](repeating: Accumulator.empty, count: oldKeys.count * 4)
            values = [Int](repeating: 0, count: oldKeys.count * 4)
            for (k, v) in zip(oldKeys, oldValues) where k != Accumulator.empty {
                var i = Int(truncatingIfNeeded: (k &* 0x9e37_79b1) >> 16) & (keys.count - 1)
                while keys[i] != Accumulator.empty { i = (i + 1) & (keys.count - 1) }
                keys[i] = k
                values[i] = v
            }
        }

        /// Moves the figures into their final places.
        mutating func flushEvent() {
            if curIndex >= 0 { cpus[curIndex] = cur }
            eventCounts = [:]
            for (k, v) in zip(keys, values) where k != Accumulator.empty { eventCounts[k] = v }
        }
    }
}

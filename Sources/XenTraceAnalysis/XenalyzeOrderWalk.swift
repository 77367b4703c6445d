import BinaryIO
import XenTrace

/// One step of a time-ordered walk over a trace.
public enum MergedItem {
    /// A record, in the order of `orderTSC` across CPUs. For a lost-records
    /// record `orderTSC` is the TSC of the first lost record (the moment losing
    /// started), as in xenalyze; all others use their own (inherited) TSC.
    case record(TraceRecord, orderTSC: UInt64)
    /// The second visit of a lost-records record, at its own TSC: losing ended.
    case lostEnd(TraceRecord)
    /// The CPU's stream has no more records; `lastTSC` is its last TSC.
    case cpuEnd(cpu: UInt32, lastTSC: UInt64)
}

/// Walks a memory-mapped xentrace file in global TSC order: an index of the
/// per-CPU windows (one pass over the CPU-change headers, skipping window
/// bodies), one cursor per CPU, and a k-way merge on the smallest TSC
/// (ties go to the lower CPU number). Records without a TSC inherit the last
/// TSC of their CPU. Damage is reported as diagnostics and skipped.
///
/// Unlike XenTrace's plain TSC merge it also yields what the analyses need to
/// match xenalyze: the second visit of lost-records records and the end of
/// each CPU's stream.
public struct XenalyzeOrderWalk {
    struct Window { var start: Int; var end: Int }
    /// Plain values only, so copying a stream's state costs nothing; its
    /// windows are `windows[firstWindow..<endWindow]`.
    struct Stream {
        var cpu: UInt32
        var firstWindow = 0
        var endWindow = 0
        var index = 0
        var pos = 0
        var lastTSC: UInt64 = 0
        var hasCurrent = false
        var orderTSC: UInt64 = 0
        var pendingLostEnd = false
        var lostEndDue = false
    }

    /// Problems found while indexing or reading (at most `maxDiagnostics`).
    public private(set) var diagnostics: [TraceDiagnostic] = []
    /// Number of CPU-change windows found.
    public private(set) var windowCount = 0
    static let maxDiagnostics = 1000

    private var streams: [Stream] = []
    /// The record each stream is at (valid while `hasCurrent`); apart from
    /// `streams` so the merge's comparisons touch small structs only.
    private var currents: [TraceRecord] = []
    private var windows: [Window] = []
    private let bytes: ByteView
    /// Called with byte ranges no stream will read again (for madvise), so
    /// resident memory stays bounded on files of any size.
    public var dropPages: ((Int, Int) -> Void)? = nil
    /// Told, every `progressEvery` bytes of records read, how far the slowest
    /// unfinished stream has got (a byte offset into the file), for a
    /// progress display; checked on the existing byte counter, not per record.
    public var progress: ((Int) -> Void)? = nil
    static let progressEvery = 4 << 20
    private var dropped = 0
    private var sinceCheck = 0
    static let dropEvery = 32 << 20

    /// Indexes `bytes` (the whole file, kept valid by the caller while the
    /// walk is used) by CPU window.
    /// `dropPages`, if given, is told about byte ranges that are not needed
    /// for now (indexing faults in a page per window; reading comes later).
    public init(_ bytes: some ByteViewSource, dropPages: ((Int, Int) -> Void)? = nil) {
        let bytes = bytes.byteView
        self.bytes = bytes
        self.dropPages = dropPages
        var indexDropped = 0
        var byCPU: [UInt32: Int] = [:]
        var perStream: [[Window]] = []
        var o = 0
        let n = bytes.count
        while o + 4 <= n {
            guard o + 12 <= n else {
                note(.truncatedRecord, o, nil, "\(n - o) trailing byte(s) too short for a CPU-change record")
                break
            }
            let h = bytes.uint32LE(at: o)
            if h != 0x2001_f003 {
                // Resynchronise at the next plausible CPU-change record.
                // Candidates every 4 bytes, found through memchr (zeros and
                // random bytes go by at memory speed), for at most
                // RecordScanner.maxGarbageBytes: past that the input is not
                // a trace from here on, as the reader in XenTrace says.
                let from = o
                let last = min(n - 12, from + RecordScanner.maxGarbageBytes - 1)
                var p = o + 4
                var found = -1
                while p <= last {
                    let chunkEnd = min(last, p + XenalyzeOrderWalk.dropEvery - 1)
                    guard let j = bytes.firstOffset(of: 0x03, in: p ..< chunkEnd + 1) else {
                        dropPages?(p, chunkEnd + 1 - p)
                        p = chunkEnd + 1
                        continue
                    }
                    if (j - from) % 4 == 0, bytes.uint32LE(at: j) == 0x2001_f003, bytes.uint32LE(at: j + 4) <= RecordScanner.maxCPU,
                       bytes.uint32LE(at: j + 8) % 4 == 0 { found = j; break }
                    p = j + 1
                }
                if found < 0 && p >= from + RecordScanner.maxGarbageBytes {
                    note(.notATrace, from, nil, "expected a CPU-change record; none in the \(RecordScanner.maxGarbageBytes) bytes from here: not a xentrace stream; stopped reading")
                    break
                }
                note(.garbage, from, nil, found < 0
                     ? "expected a CPU-change record; no further one found, ignoring the last \(n - from) byte(s)"
                     : "expected a CPU-change record; skipped \(found - from) byte(s) to the next one")
                if found < 0 { break }
                o = found
                continue
            }
            var cpu = bytes.uint32LE(at: o + 4)
            let size = Int(bytes.uint32LE(at: o + 8))
            if cpu > RecordScanner.maxCPU {
                note(.implausibleCPU, o, nil, "CPU-change record names CPU \(cpu); window ignored")
                cpu = UInt32.max
            }
            var end = o + 12 + size
            if end > n {
                note(.windowPastEnd, o, cpu, "window of \(size) bytes ends \(end - n) byte(s) past the end of the file")
                end = n
            }
            if cpu != UInt32.max {
                let i: Int
                if let j = byCPU[cpu] { i = j } else {
                    i = streams.count
                    byCPU[cpu] = i
                    streams.append(Stream(cpu: cpu))
                    perStream.append([])
                }
                perStream[i].append(Window(start: o + 12, end: end))
                windowCount += 1
            }
            o = end
            if let dropPages, o - indexDropped >= XenalyzeOrderWalk.dropEvery {
                dropPages(indexDropped, o - indexDropped)
                indexDropped = o
            }
        }
        // An empty input, or 1-3 bytes the loop above cannot look at, would
        // otherwise pass without a word.
        if n == 0 {
            note(.emptyInput, 0, nil, "the input is empty: no trace records")
        } else if o < n && o + 4 > n {
            note(.truncatedRecord, o, nil, "\(n - o) trailing byte(s) too short for a CPU-change record")
        }
        if let dropPages, n > indexDropped { dropPages(indexDropped, n - indexDropped) }
        let order = streams.indices.sorted { streams[$0].cpu < streams[$1].cpu }
        var sorted: [Stream] = []
        for i in order {
            var st = streams[i]
            st.firstWindow = windows.count
            windows.append(contentsOf: perStream[i])
            st.endWindow = windows.count
            st.index = st.firstWindow
            st.pos = windows[st.firstWindow].start
            sorted.append(st)
        }
        streams = sorted
        currents = [TraceRecord](repeating: TraceRecord(cpu: 0, header: 0, tsc: 0, extra: ExtraWords(), offset: 0), count: sorted.count)
    }

    private mutating func note(_ k: TraceDiagnostic.Kind, _ offset: Int, _ cpu: UInt32?, _ msg: String) {
        if diagnostics.count < XenalyzeOrderWalk.maxDiagnostics { diagnostics.append(TraceDiagnostic(k, offset: offset, cpu: cpu, msg)) }
    }

    /// Number of CPU-change windows (records) per CPU.
    public var windowsPerCPU: [UInt32: Int] {
        var d: [UInt32: Int] = [:]
        for s in streams { d[s.cpu] = s.endWindow - s.firstWindow }
        return d
    }

    /// CPUs that have at least one window, ascending.
    public var cpus: [UInt32] { streams.map(\.cpu) }

    /// Reads the next record of stream `s` into `currents[s]`.
    private mutating func advance(_ s: Int) {
        var st = streams[s]
        defer { streams[s] = st }
        while true {
            if st.index >= st.endWindow { st.hasCurrent = false; return }
            let w = windows[st.index]
            if st.pos >= w.end {
                st.index += 1
                if st.index < st.endWindow { st.pos = windows[st.index].start }
                continue
            }
            guard st.pos + 4 <= w.end else {
                note(.truncatedRecord, st.pos, st.cpu, "\(w.end - st.pos) byte(s) at the end of a CPU window, too short for a record")
                st.pos = w.end
                continue
            }
            // The window lies inside `bytes` (checked when indexing); the
            // view checks each read again.
            let header = bytes.uint32LE(at: st.pos)
            let size = TraceRecord.size(header: header)
            if st.pos + size > w.end {
                note(.recordCrossesWindow, st.pos, st.cpu,
                     "record of \(size) bytes crosses the end of its CPU window at byte \(w.end); skipping \(w.end - st.pos) byte(s)")
                st.pos = w.end
                continue
            }
            let r = TraceRecord(bytes, at: st.pos, header: header, cpu: st.cpu, lastTSC: st.lastTSC)
            if r.hasTSC {
                if r.tsc < st.lastTSC {
                    note(.tscBackwards, st.pos, st.cpu, "TSC went backwards by \(st.lastTSC - r.tsc) cycles")
                }
                st.lastTSC = r.tsc
            }
            currents[s] = r
            st.pos += size
            sinceCheck += size
            st.hasCurrent = true
            if r.event == Ev.lostRecords && r.extraCount == 4 && r.hasTSC {
                st.orderTSC = UInt64(r.extra.w2) | UInt64(r.extra.w3) << 32
                st.pendingLostEnd = true
            } else {
                st.orderTSC = r.tsc
            }
            return
        }
    }

    /// Calls `body` for every record in TSC order, with the lost-record
    /// second visits and end-of-CPU markers described by ``MergedItem``.
    public mutating func run(_ body: (MergedItem) -> Void) {
        withoutActuallyEscaping(body) { body in
            var h = ClosureHandler(body: body)
            run(into: &h)
        }
    }

    /// As ``run(_:)``, handing items to `handler` (no closure context: a
    /// closure capturing the caller's state costs exclusivity checks per item).
    mutating func run<H: MergedItemHandler>(into handler: inout H) {
        var heap = StreamHeap(cpus: streams.map(\.cpu))
        for s in streams.indices {
            advance(s)
            if streams[s].hasCurrent { heap.push(s, key: streams[s].orderTSC) }
        }
        while !heap.isEmpty {
            let s = heap.top
            let r = currents[s]
            if streams[s].pendingLostEnd {
                // First visit of a lost-records record at the first-lost TSC.
                handler.handle(.record(r, orderTSC: streams[s].orderTSC))
                streams[s].pendingLostEnd = false
                // Second visit at its own TSC (never earlier than the first).
                streams[s].orderTSC = max(r.tsc, streams[s].orderTSC)
                streams[s].lostEndDue = true
                heap.updateTop(key: streams[s].orderTSC)
                continue
            }
            if streams[s].lostEndDue {
                streams[s].lostEndDue = false
                handler.handle(.lostEnd(r))
            } else {
                handler.handle(.record(r, orderTSC: streams[s].orderTSC))
            }
            advance(s)
            if sinceCheck >= XenalyzeOrderWalk.progressEvery, dropPages != nil || progress != nil {
                sinceCheck = 0
                // Below every unfinished stream's read position nothing is needed again.
                var low = bytes.count
                for t in streams where t.index < t.endWindow { low = min(low, t.pos) }
                if let drop = dropPages, low - dropped >= XenalyzeOrderWalk.dropEvery { drop(dropped, low - dropped); dropped = low }
                progress?(low)
            }
            if !streams[s].hasCurrent {
                handler.handle(.cpuEnd(cpu: streams[s].cpu, lastTSC: streams[s].lastTSC))
                heap.pop()
            } else {
                heap.updateTop(key: streams[s].orderTSC)
            }
        }
    }
}

/// Takes the items of a walk.
protocol MergedItemHandler {
    mutating func handle(_ item: MergedItem)
}

struct ClosureHandler: MergedItemHandler {
    let body: (MergedItem) -> Void
    func handle(_ item: MergedItem) { body(item) }
}

/// A binary min-heap of stream numbers keyed by (order TSC, CPU), as a
/// struct with mutating methods: nested functions capturing local arrays
/// cost dynamic exclusivity checks on every comparison.
struct StreamHeap {
    private var heap: [Int] = []
    private var key: [UInt64]
    private let cpu: [UInt32]

    init(cpus: [UInt32]) {
        cpu = cpus
        key = [UInt64](repeating: 0, count: cpus.count)
    }

    var isEmpty: Bool { heap.isEmpty }
    /// The stream with the smallest key.
    var top: Int { heap[0] }

    @inline(__always) private func less(_ a: Int, _ b: Int) -> Bool {
        key[a] != key[b] ? key[a] < key[b] : cpu[a] < cpu[b]
    }

    mutating func push(_ s: Int, key k: UInt64) {
        key[s] = k
        heap.append(s)
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { return }
        }
    }

    /// The top stream's key changed (it moved on to its next record).
    mutating func updateTop(key k: UInt64) {
        key[heap[0]] = k
        siftDown(0)
    }

    /// Removes the top stream (it has no more records).
    mutating func pop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private mutating func siftDown(_ i0: Int) {
        var i = i0
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && less(heap[l], heap[m]) { m = l }
            if r < n && less(heap[r], heap[m]) { m = r }
            if m == i { return }
            heap.swapAt(i, m); i = m
        }
    }
}

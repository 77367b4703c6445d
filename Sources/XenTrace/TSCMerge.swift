import BinaryIO

/// TSC order over a mapped trace: one cursor per CPU, merged by TSC.
///
/// A first walk reads only the CPU-change records (each window is skipped in
/// O(1) by its size), finding the CPUs, each CPU's first window and the
/// garbage regions, and reporting layout damage. Then every CPU gets a cursor
/// that reads its own windows and hops over foreign ones by their size; a
/// binary heap keyed by (TSC, file offset) picks the next record, so equal
/// TSCs keep file order. Memory is O(CPUs + damaged regions); each cursor
/// drops the pages it has passed.
enum TSCMerge {
    /// One CPU's reader (the merge loop mutates it in place through an
    /// unsafe buffer pointer: no exclusivity or copy-on-write checks per record).
    struct Cursor {
        let cpu: UInt32
        var core: ScanCore
        var pos: Int
        var dropMark = 0
        /// Garbage regions found by the window walk (shared, never copied).
        let resync: [Int: Int]
        /// Runs of records before the first window (CPU 0's cursor only),
        /// read before its windows; garbage between them is not re-read.
        var headerless: [Range<Int>] = []
        var headerlessIndex = 0

        init(cpu: UInt32, core: ScanCore, pos: Int, resync: [Int: Int]) {
            self.cpu = cpu
            self.core = core
            self.pos = pos
            self.resync = resync
        }

        /// The cursor's next record, or nil when its CPU has no more.
        mutating func advance(_ b: UnsafeRawBufferPointer) -> TraceRecord? {
            while true {
                if core.inWindow || core.skipLeft > 0 {
                    if case .record(let r) = core.stepInWindow(b, &pos, base: 0, eof: true) { return r }
                    core.quiet = false
                    continue
                }
                if headerlessIndex < headerless.count {
                    // The records before the first window, already reported on.
                    let run = headerless[headerlessIndex]
                    headerlessIndex += 1
                    pos = run.lowerBound
                    core.quiet = true
                    core.enterHeaderlessRegion(size: run.count)
                    continue
                }
                // Between windows: hop to this CPU's next CPU-change record.
                while true {
                    if !resync.isEmpty, let next = resync[pos] { pos = next; continue }
                    guard pos + 12 <= b.count, ScanCore.load32(b, pos) == ScanCore.cpuChangeHeader else {
                        pos = b.count
                        return nil
                    }
                    let c = ScanCore.load32(b, pos + 4)
                    let size = ScanCore.load32(b, pos + 8)
                    guard c <= RecordScanner.maxCPU, size % 4 == 0 else { pos = b.count; return nil }
                    if c == cpu {
                        let offset = pos
                        core.enterWindow(cpu: c, size: Int(size), offset: offset)
                        pos += 12
                        var extra = ExtraWords()
                        extra.w0 = c
                        extra.w1 = size
                        return TraceRecord(cpu: c, header: ScanCore.cpuChangeHeader, tsc: core.curTSC, extra: extra, offset: offset)
                    }
                    pos += 12 + Int(size)
                }
            }
        }
    }

    static func run(_ m: MappedFile, _ body: (TraceRecord) throws -> Bool) rethrows -> [TraceDiagnostic] {
        try m.withBytes { b in
            // 1. The window walk.
            var walker = ScanCore(inputSize: b.count)
            walker.skipWindowContents = true
            walker.recordResyncPoints = true
            walker.dropBehind = { m.dropPages(offset: $0, count: $1) }
            var firstWindow: [UInt32: Int] = [:]
            var headerless: [Range<Int>] = []   // runs of records before the first window
            var pos = 0, dropMark = 0
            while case .record(let r) = walker.step(b, &pos, base: 0, eof: true) {
                if walker.lastWasWindowHeader {
                    if firstWindow[r.cpu] == nil { firstWindow[r.cpu] = r.offset }
                } else if let last = headerless.last, last.upperBound == r.offset {
                    headerless[headerless.count - 1] = last.lowerBound ..< pos
                } else {
                    headerless.append(r.offset ..< pos)
                }
                if pos - dropMark >= TraceInput.dropChunk {
                    m.dropPages(offset: dropMark, count: pos - dropMark)
                    dropMark = pos
                }
            }
            m.dropPages(offset: dropMark, count: pos - dropMark)
            var diagnostics = walker.finalDiagnostics()
            let resync = walker.resyncPoints

            // 2. One cursor per CPU.
            var cpus = Set(firstWindow.keys)
            if !headerless.isEmpty { cpus.insert(0) }
            var cursors: [Cursor] = cpus.sorted().map { c in
                Cursor(cpu: c, core: ScanCore(cursorFor: c, inputSize: b.count),
                       pos: firstWindow[c] ?? b.count, resync: resync)
            }
            if !headerless.isEmpty {
                // CPU 0 starts with the header-less records.
                cursors[0].headerless = headerless
            }
            let chunk = 8 << 20
            let spreadLimit = 48 << 20

            // 3. Merge: a binary heap of cursor indices keyed by the heads'
            // (TSC, offset). All per-record state lives in plain local
            // structs (no captured variables, which would cost a dynamic
            // exclusivity check per access).
            try cursors.withUnsafeMutableBufferPointer { cs in
                var heap = MergeHeap(count: cs.count)
                for i in cs.indices {
                    if let r = cs[i].advance(b) { heap.insert(i, r) }
                }
                heap.heapify()
                var lowWater = 0
                var sinceCheck = 0
                while let top = heap.top {
                    if try !body(heap.heads[top]) { break }
                    if let r = cs[top].advance(b) {
                        heap.replaceTop(r)
                    } else {
                        heap.removeTop()
                    }
                    sinceCheck &+= 1
                    if sinceCheck & 0xffff == 0 {
                        TSCMerge.releasePages(m, cs, &lowWater, chunk: chunk, spreadLimit: spreadLimit)
                    }
                }
            }
            for c in cursors { diagnostics += c.core.finalDiagnostics() }
            return diagnostics
        }
    }

    /// Pages behind the slowest cursor are done with: drop them. If the
    /// cursors drift far apart (a CPU whose TSCs lag), each also drops what
    /// it passed, at the price of the others faulting it back in.
    static func releasePages(_ m: MappedFile, _ cs: UnsafeMutableBufferPointer<Cursor>, _ lowWater: inout Int, chunk: Int, spreadLimit: Int) {
        var lo = Int.max, hi = 0
        for c in cs { lo = min(lo, c.pos); hi = max(hi, c.pos) }
        if lo == Int.max { return }
        if lo - lowWater >= chunk {
            m.dropPages(offset: lowWater, count: lo - lowWater)
            lowWater = lo
        }
        if hi - lo > spreadLimit {
            for i in cs.indices where cs[i].pos - max(cs[i].dropMark, lowWater) >= chunk {
                let from = max(cs[i].dropMark, lowWater)
                m.dropPages(offset: from, count: cs[i].pos - from)
                cs[i].dropMark = cs[i].pos
            }
        }
    }

    /// A binary min-heap of cursor indices keyed by (TSC, file offset) of
    /// each cursor's head record.
    struct MergeHeap {
        var heap: [Int] = []
        var heads: [TraceRecord]
        var tscs: [UInt64]
        var offsets: [Int]

        init(count: Int) {
            heads = Array(repeating: TraceRecord(cpu: 0, header: 0, tsc: 0, extra: ExtraWords(), offset: 0), count: count)
            tscs = Array(repeating: 0, count: count)
            offsets = Array(repeating: 0, count: count)
            heap.reserveCapacity(count)
        }

        var top: Int? { heap.first }

        @inline(__always) func less(_ x: Int, _ y: Int) -> Bool {
            tscs[x] != tscs[y] ? tscs[x] < tscs[y] : offsets[x] < offsets[y]
        }

        mutating func insert(_ i: Int, _ r: TraceRecord) {
            heads[i] = r
            tscs[i] = r.tsc
            offsets[i] = r.offset
            heap.append(i)
        }

        mutating func heapify() {
            for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        }

        /// The top cursor has a new head.
        @inline(__always) mutating func replaceTop(_ r: TraceRecord) {
            let t = heap[0]
            heads[t] = r
            tscs[t] = r.tsc
            offsets[t] = r.offset
            siftDown(0)
        }

        /// The top cursor is exhausted.
        mutating func removeTop() {
            heap[0] = heap[heap.count - 1]
            heap.removeLast()
            if !heap.isEmpty { siftDown(0) }
        }

        @inline(__always) mutating func siftDown(_ start: Int) {
            var i = start
            let n = heap.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n, less(heap[l], heap[m]) { m = l }
                if r < n, less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
    }
}

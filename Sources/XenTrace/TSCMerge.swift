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
    struct Cursor {
        let cpu: UInt32
        var core: ScanCore
        var pos: Int
        var dropMark: Int

        /// The cursor's next record, or nil when its CPU has no more.
        mutating func advance(_ b: UnsafeRawBufferPointer, _ resync: [Int: Int]) -> TraceRecord? {
            while true {
                if core.inWindow || core.skipLeft > 0 {
                    if case .record(let r) = core.stepInWindow(b, &pos, base: 0, eof: true) { return r }
                    core.quiet = false
                    continue
                }
                // Between windows: hop to this CPU's next CPU-change record.
                while true {
                    if let next = resync[pos] { pos = next; continue }
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
            var firstWindow: [UInt32: Int] = [:]
            var headerlessEnd = 0
            var pos = 0, dropMark = 0
            while case .record(let r) = walker.step(b, &pos, base: 0, eof: true) {
                if walker.lastWasWindowHeader {
                    if firstWindow[r.cpu] == nil { firstWindow[r.cpu] = r.offset }
                } else {
                    headerlessEnd = pos   // records before the first window
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
            if headerlessEnd > 0 { cpus.insert(0) }
            var cursors: [Cursor] = cpus.sorted().map { c in
                Cursor(cpu: c, core: ScanCore(cursorFor: c, inputSize: b.count),
                       pos: firstWindow[c] ?? b.count, dropMark: 0)
            }
            if headerlessEnd > 0 {
                // CPU 0 starts with the header-less records, already reported on.
                cursors[0].pos = 0
                cursors[0].core.quiet = true
                cursors[0].core.enterHeaderlessRegion(size: headerlessEnd)
            }
            let chunk = max(1 << 20, (64 << 20) / max(1, cursors.count))

            // 3. Merge: a binary heap of cursor indices keyed by the heads'
            // (TSC, offset), kept in arrays of their own so comparisons touch
            // nothing else.
            var heads = [TraceRecord](repeating: TraceRecord(cpu: 0, header: 0, tsc: 0, extra: ExtraWords(), offset: 0), count: cursors.count)
            var tscs = [UInt64](repeating: 0, count: cursors.count)
            var offsets = [Int](repeating: 0, count: cursors.count)
            var heap: [Int] = []
            for i in cursors.indices {
                if let r = cursors[i].advance(b, resync) {
                    heads[i] = r
                    tscs[i] = r.tsc
                    offsets[i] = r.offset
                    heap.append(i)
                }
            }
            @inline(__always) func less(_ x: Int, _ y: Int) -> Bool {
                tscs[x] != tscs[y] ? tscs[x] < tscs[y] : offsets[x] < offsets[y]
            }
            func siftDown(_ start: Int) {
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
            for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
            while let top = heap.first {
                if try !body(heads[top]) { break }
                if let r = cursors[top].advance(b, resync) {
                    heads[top] = r
                    tscs[top] = r.tsc
                    offsets[top] = r.offset
                } else {
                    heap[0] = heap[heap.count - 1]
                    heap.removeLast()
                }
                if cursors[top].pos - cursors[top].dropMark >= chunk {
                    m.dropPages(offset: cursors[top].dropMark, count: cursors[top].pos - cursors[top].dropMark)
                    cursors[top].dropMark = cursors[top].pos
                }
                if heap.count > 1 { siftDown(0) }
            }
            for c in cursors { diagnostics += c.core.finalDiagnostics() }
            return diagnostics
        }
    }
}

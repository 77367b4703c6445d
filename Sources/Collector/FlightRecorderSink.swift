import TraceRing

/// Flight-recorder mode (`--memory-buffer`, xentrace `-M`): windows go into
/// a circular buffer of `capacity` bytes of output — CPU-change records
/// included — and reach the output only in ``finish()``. When a new window
/// does not fit, the oldest records are dropped one whole record at a time
/// (a window losing its last record loses its CPU-change record too), so the
/// buffer always holds the newest suffix of what was collected that fits,
/// in collection order, per-CPU order intact. At the end the output starts
/// at the oldest whole pass over the CPUs it holds (see ``alignToPass()``),
/// or, when it holds none, with the newest records as they are. What was
/// dropped is counted per CPU (``overwritten``) for the metadata.
///
/// xentrace drops whole windows instead, then skips to a pass start; we
/// keep records at finer grain while collecting and say how many we dropped.
public final class FlightRecorderSink: TraceSink {
    /// Output bytes the buffer may hold (the file's size limit).
    public let capacity: Int
    /// Where ``finish()`` writes the buffer.
    public let output: TraceFileSink
    public private(set) var overwritten: [UInt32: OverwrittenCount] = [:]

    /// Data bytes of the windows, circular (windows' CPU-change records are
    /// made up at the end, but count against `capacity`).
    private let ring: UnsafeMutableRawBufferPointer
    private var windows: [Window] = []
    private var firstWindow = 0
    /// Logical offset (monotonic) where the next window's bytes go.
    private var tail = 0
    /// Output bytes held: Σ (12 + window bytes).
    private var used = 0
    private var finished = false
    private var lastCPU: UInt32?
    /// Output bytes dropped at the end to respect the disk reserve.
    public private(set) var reserveDropped: Int64 = 0

    struct Window {
        let cpu: UInt32
        /// Logical offset of the first byte still held.
        var start: Int
        var length: Int
        /// Records (wrap padding excluded) still held.
        var records: Int
        /// The first window of a pass over the CPUs (its CPU is not above
        /// the previous window's), so every CPU's data from here on covers
        /// the same stretch of time.
        let passStart: Bool
        /// Lost records from its front.
        var trimmed = false
    }

    /// `capacity` must be at least 48 bytes (a CPU-change record and the
    /// largest record).
    public init(capacity: Int, output: TraceFileSink) throws {
        guard capacity >= 48 else { throw CollectorError("--memory-buffer must be at least 48 bytes (a CPU-change record and one 36-byte record)") }
        self.capacity = capacity
        self.output = output
        // Data never exceeds capacity − 12; a multiple of 4 keeps every
        // record header (4-aligned) in one piece.
        ring = UnsafeMutableRawBufferPointer.allocate(byteCount: (capacity + 3) & ~3, alignment: 8)
    }

    deinit { ring.deallocate() }

    public var committed: Int64 { Int64(used) }

    /// Records currently held, per CPU (for tests and the summary).
    public var heldRecords: Int { windows[firstWindow...].reduce(0) { $0 + $1.records } }

    public func write(_ w: RingWindow) throws {
        let n = w.count
        guard n > 0 else { return }
        // Make room by dropping the oldest records.
        makeRoom(for: 12 + n)
        // The window alone may be larger than the whole buffer: keep its newest records.
        var skip = 0, skippedRecords = 0
        if 12 + n > capacity {
            var sizes = WindowRecords(first: w.first, second: w.second)
            while 12 + n - skip > capacity, let (size, isRecord) = sizes.next() {
                skip += size
                if isRecord { skippedRecords += 1 }
            }
            count(cpu: w.cpu, records: skippedRecords, bytes: skip)
            if skip >= n { return }
        }
        let t = w.tally()
        let start = tail
        var p = 0
        for chunk in [w.first, w.second] {
            let begin = max(0, skip - p)   // window offset `skip` onwards
            if begin < chunk.count { copyIn(UnsafeRawBufferPointer(rebasing: chunk[begin...])) }
            p += chunk.count
        }
        windows.append(Window(cpu: w.cpu, start: start, length: n - skip, records: t.records - skippedRecords,
                              passStart: lastCPU.map { w.cpu <= $0 } ?? true, trimmed: skip > 0))
        lastCPU = w.cpu
        used += 12 + n - skip
    }

    private func copyIn(_ bytes: UnsafeRawBufferPointer) {
        var done = 0
        while done < bytes.count {
            let at = tail % ring.count
            let n = min(bytes.count - done, ring.count - at)
            UnsafeMutableRawBufferPointer(rebasing: ring[at..<at + n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[done..<done + n]))
            done += n
            tail += n
        }
    }

    /// Drops the oldest records until `need` more output bytes fit (or
    /// nothing is left).
    private func makeRoom(for need: Int) { shrink(toAtMost: capacity - need) }

    /// Drops the oldest records, one at a time, until at most `limit` output
    /// bytes are held: the fewest that do it.
    private func shrink(toAtMost limit: Int) {
        while used > limit && firstWindow < windows.count {
            var w = windows[firstWindow]
            if used - (12 + w.length) >= limit {
                // Dropping less than this whole window is not enough.
                count(cpu: w.cpu, records: w.records, bytes: w.length)
                used -= 12 + w.length
                firstWindow += 1
                continue
            }
            while used > limit {
                let h = ring.load(fromByteOffset: w.start % ring.count, as: UInt32.self).littleEndian
                let size = min(w.length, recordSize(h))
                let isRecord = h & 0x0fff_ffff != wrapBufferEvent
                count(cpu: w.cpu, records: isRecord ? 1 : 0, bytes: size)
                if isRecord { w.records -= 1 }
                w.start += size; w.length -= size; used -= size
                w.trimmed = true
                if w.length == 0 { used -= 12; break }
            }
            if w.length == 0 { firstWindow += 1 } else { windows[firstWindow] = w }
        }
        if firstWindow > 1024 && firstWindow * 2 > windows.count {
            windows.removeFirst(firstWindow)
            firstWindow = 0
        }
    }

    /// Starts the output at a whole pass over the CPUs when the buffer
    /// holds one: otherwise CPUs after the oldest (partial) window start
    /// earlier than the CPUs before it, and a reader that follows state
    /// across CPUs (xenalyze's vCPU runstates) sees a vCPU's moves on one
    /// CPU without the moves on another that came before them. xentrace's
    /// -M also starts at a pass. Without a whole pass, the newest records
    /// stay as they are.
    private func alignToPass() {
        guard firstWindow < windows.count else { return }
        let first = windows[firstWindow]
        if first.passStart && !first.trimmed { return }
        guard let next = windows[(firstWindow + 1)...].firstIndex(where: { $0.passStart && !$0.trimmed }) else { return }
        for w in windows[firstWindow..<next] {
            count(cpu: w.cpu, records: w.records, bytes: w.length)
            used -= 12 + w.length
        }
        firstWindow = next
    }

    private func count(cpu: UInt32, records: Int, bytes: Int) {
        guard bytes > 0 else { return }
        overwritten[cpu, default: OverwrittenCount()].records += records
        overwritten[cpu, default: OverwrittenCount()].bytes += Int64(bytes)
    }

    /// Writes the held windows, oldest first. With a disk reserve, the
    /// oldest records are dropped first so that the newest still fit.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        if let reserve = output.reserveBytes, let space = output.fileSystemSpace() {
            // The file will take whole blocks: keep what fits in the blocks
            // the reserve leaves, then write without checking per window.
            let room = max(0, space.free - reserve) / space.block * space.block
            if Int64(used) > room {
                reserveDropped = Int64(used)
                shrink(toAtMost: Int(room))
                reserveDropped -= Int64(used)
            }
            output.reserveBytes = nil
        }
        alignToPass()
        for w in windows[firstWindow...] {
            let at = w.start % ring.count
            let firstLen = min(w.length, ring.count - at)
            let a = UnsafeRawBufferPointer(rebasing: ring[at..<at + firstLen])
            let b = UnsafeRawBufferPointer(rebasing: ring[0..<(w.length - firstLen)])
            try output.write(cpu: w.cpu, chunks: [a, b])
        }
        try output.finish()
    }
}

/// TRC_TRACE_WRAP_BUFFER: padding a producer writes up to the ring end.
let wrapBufferEvent: UInt32 = 0x0001_f002

@inline(__always) func recordSize(_ h: UInt32) -> Int {
    4 + (h & 0x8000_0000 != 0 ? 8 : 0) + 4 * Int((h >> 28) & 7)
}

/// Record sizes of a window's chunks, in order: (bytes, is a record rather
/// than wrap padding). A record claiming more than its chunk holds takes the
/// rest of the chunk.
struct WindowRecords {
    let chunks: [UnsafeRawBufferPointer]
    var c = 0, p = 0
    init(first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) { chunks = [first, second] }
    mutating func next() -> (Int, Bool)? {
        while c < chunks.count && p >= chunks[c].count { c += 1; p = 0 }
        guard c < chunks.count else { return nil }
        let chunk = chunks[c]
        let left = chunk.count - p
        guard left >= 4 else { p = chunk.count; return (left, false) }
        let h = chunk.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian
        let size = min(left, recordSize(h))
        p += size
        return (size, h & 0x0fff_ffff != wrapBufferEvent)
    }
}

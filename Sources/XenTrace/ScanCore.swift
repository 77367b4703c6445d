#if canImport(Glibc)
import Glibc
#endif

/// What one step of the scanner produced.
enum ScanStep {
    /// A record (its bytes have been consumed).
    case record(TraceRecord)
    /// The bytes in the buffer end inside a record or header: supply more
    /// (keeping the bytes from `pos` on), or call again with `eof: true`.
    case needMore
    /// Nothing more to read.
    case end
}

/// The record-level state machine behind every reader (whole mapped file,
/// chunked stream, per-CPU cursor, window index).
///
/// It is fed a byte buffer, a position in it, the absolute offset of the
/// buffer's first byte and whether the buffer ends at the end of the input,
/// so the same logic serves memory-mapped files and fixed-size stream buffers.
/// It never allocates per record; diagnostics are capped per kind.
///
/// Layout rules it enforces (docs/trace-format.md §2): the input is a sequence
/// of windows, each a CPU-change record `0x2001f003 {cpu, size}` and `size`
/// bytes of records that must end exactly at the window end. Anything else
/// where a CPU-change record is expected is garbage: the scanner skips to the
/// next *plausible* CPU-change record (header 0x2001f003, CPU ≤ 4095, size a
/// multiple of 4, ≤ the largest ring xentrace can have and ≤ the rest of the
/// input when its size is known). Only at the very start of the input are
/// records without a window accepted (read as CPU 0), as xentrace_format does,
/// and only while their event ids are ones Xen can write
/// (``EventID/isPossible(_:)``); the first that is not starts garbage, which
/// there may also end at a run of such records (a dump that starts mid-record).
///
/// Garbage is not searched for ever: after ``RecordScanner/maxGarbageBytes``
/// bytes without a way back in, the input is "not a xentrace stream" from
/// where the garbage began (`notATrace`, reported once) and nothing more is
/// read — so `cat /dev/zero |` and a huge file of zeros or random bytes end.
struct ScanCore {
    static let cpuChangeHeader: UInt32 = 0x2001_f003
    /// Largest window xentrace can write: a ring of 65535 pages (t_info's
    /// u16 size field) minus its 8-byte header.
    static let maxWindowBytes = 65535 * 4096
    /// Diagnostics of one kind kept in full; the rest are counted.
    static let diagnosticsPerKind = 100
    /// How far into garbage before the first window a run of possible
    /// records is looked for (a cut record is at most 40 bytes; past this
    /// only CPU-change records end garbage).
    static let preludeRunSearchBytes = 64 << 10
    /// Records in a row that make a run (fewer do when they end exactly at a
    /// plausible CPU-change record or at the end of the input).
    static let runLength = 8

    /// Current physical CPU.
    private(set) var cpu: UInt32 = 0
    /// Last TSC seen on `cpu`.
    private(set) var curTSC: UInt64 = 0
    /// Last TSC of the other CPUs, saved at window switches only.
    private var tscByCPU: [UInt64] = []
    /// Inside a window, with `windowLeft` bytes to go.
    private(set) var inWindow = false
    private var windowLeft = 0
    /// Absolute offset of the current window's CPU-change record, its data
    /// size and its end (nil once the window is complete).
    private var windowOffset = 0
    private var windowSize = 0
    private var windowEnd: Int? = nil
    /// Bytes to skip (rest of a window after a damaged record, or a whole
    /// window in index mode).
    private(set) var skipLeft = 0
    private var started = false
    private(set) var windowless = false
    /// Set when the last record returned was a window's CPU-change record.
    private(set) var lastWasWindowHeader = false
    /// Where unparseable bytes began (resynchronising when set).
    private var garbageStart: Int? = nil
    private var garbageKind = TraceDiagnostic.Kind.garbage
    private var garbageWhy = ""
    /// The garbage began among the records before the first window, so a
    /// run of possible records may end it too.
    private var garbageInPrelude = false
    /// Where the header-less start of the input was reported (noCPUChange).
    private var preludeStart: Int? = nil
    /// Whether any record has been returned.
    private var deliveredAny = false
    /// The input was found not to be a trace: nothing more is read.
    private(set) var stopped = false
    /// Told about mapped byte ranges (absolute offset, count) a long garbage
    /// search has passed, so a mapping's resident pages stay bounded while
    /// up to ``RecordScanner/maxGarbageBytes`` go by in one step.
    var dropBehind: ((Int, Int) -> Void)? = nil
    /// Bytes searched between two `dropBehind` calls.
    static let garbageDropChunk = 8 << 20
    /// Index mode: skip window contents instead of parsing them.
    var skipWindowContents = false
    /// Whether a window running past the end is reported (cursors leave that
    /// to the index walk, which sees every window).
    var reportWindowPastEnd = true
    /// No diagnostics at all (re-reading a region already reported).
    var quiet = false
    /// Size of the whole input when known (mapped files).
    let inputSize: Int?
    /// Garbage regions: absolute start → absolute offset where scanning
    /// resumed (a plausible CPU-change record or the end of the input).
    var resyncPoints: [Int: Int] = [:]
    var recordResyncPoints = false

    private(set) var diagnostics: [TraceDiagnostic] = []
    private var kindCounts: [TraceDiagnostic.Kind: Int] = [:]
    private var suppressed: [TraceDiagnostic.Kind: (first: Int, count: Int)] = [:]

    init(inputSize: Int?) {
        self.inputSize = inputSize
    }

    /// A core that reads only the windows of `cpu` (a per-CPU cursor).
    init(cursorFor cpu: UInt32, inputSize: Int) {
        self.inputSize = inputSize
        self.cpu = cpu
        started = true
        reportWindowPastEnd = false
    }

    // MARK: diagnostics

    mutating func note(_ kind: TraceDiagnostic.Kind, _ offset: Int, cpu: UInt32?, _ message: String) {
        if quiet { return }
        let n = kindCounts[kind, default: 0]
        kindCounts[kind] = n + 1
        if n < ScanCore.diagnosticsPerKind {
            diagnostics.append(TraceDiagnostic(kind, offset: offset, cpu: cpu, message))
        } else {
            let s = suppressed[kind] ?? (offset, 0)
            suppressed[kind] = (s.first, s.count + 1)
        }
    }

    /// Diagnostics plus one summary line per kind that hit the cap.
    func finalDiagnostics() -> [TraceDiagnostic] {
        var out = diagnostics
        for (kind, s) in suppressed.sorted(by: { $0.value.first < $1.value.first }) {
            out.append(TraceDiagnostic(kind, offset: s.first, cpu: nil,
                "\(s.count) more problem(s) of this kind from here on, not listed"))
        }
        return out
    }

    // MARK: reading

    @inline(__always) static func load32(_ b: UnsafeRawBufferPointer, _ p: Int) -> UInt32 {
        UInt32(littleEndian: b.loadUnaligned(fromByteOffset: p, as: UInt32.self))
    }

    @inline(__always) static func load64(_ b: UnsafeRawBufferPointer, _ p: Int) -> UInt64 {
        UInt64(littleEndian: b.loadUnaligned(fromByteOffset: p, as: UInt64.self))
    }

    private mutating func switchCPU(to c: UInt32) {
        if c == cpu { return }
        let old = Int(cpu), new = Int(c)
        let need = max(old, new) + 1
        if tscByCPU.count < need { tscByCPU.append(contentsOf: repeatElement(0, count: need - tscByCPU.count)) }
        tscByCPU[old] = curTSC
        cpu = c
        curTSC = tscByCPU[new]
    }

    /// Builds the record whose (complete) bytes start at `p`.
    @inline(__always)
    private mutating func makeRecord(_ b: UnsafeRawBufferPointer, _ p: Int, base: Int, header: UInt32) -> TraceRecord {
        var q = p + 4
        if header & 0x8000_0000 != 0 {
            let t = ScanCore.load64(b, q)
            q += 8
            if t < curTSC {
                let prev = curTSC
                note(.tscBackwards, base + p, cpu: cpu, "TSC went backwards by \(prev - t) cycles (from \(prev) to \(t))")
            }
            curTSC = t
        }
        var extra = ExtraWords()
        let n = Int((header >> 28) & 7)
        if n > 0 {
            withUnsafeMutableBytes(of: &extra) { dst in
                dst.baseAddress!.copyMemory(from: b.baseAddress! + q, byteCount: 4 * n)
            }
            #if _endian(big)
            for i in 0..<n { extra[i] = UInt32(littleEndian: extra[i]) }
            #endif
        }
        return TraceRecord(cpu: cpu, header: header, tsc: curTSC, extra: extra, offset: base + p)
    }

    /// Starts a window whose CPU-change record (already validated) is at
    /// absolute `offset` (cursors call this directly).
    mutating func enterWindow(cpu c: UInt32, size: Int, offset: Int) {
        started = true
        windowless = false
        switchCPU(to: c)
        windowOffset = offset
        windowSize = size
        windowEnd = offset + 12 + size
        if skipWindowContents {
            skipLeft = size
            inWindow = false
            if size == 0 { windowEnd = nil }
        } else {
            inWindow = true
            windowLeft = size
        }
    }

    /// Treats the next `size` bytes as records of the current CPU with no
    /// CPU-change record (a cursor replaying the header-less start of a file).
    mutating func enterHeaderlessRegion(size: Int) {
        inWindow = true
        windowLeft = size
        windowEnd = nil
    }

    /// Whether a CPU-change record `{c, size}` at absolute `offset` is
    /// believable when resynchronising.
    func plausible(cpu c: UInt32, size: UInt32, at offset: Int) -> Bool {
        guard c <= RecordScanner.maxCPU, size % 4 == 0, Int(size) <= ScanCore.maxWindowBytes else { return false }
        if let inputSize, offset + 12 + Int(size) > inputSize { return false }
        return true
    }

    /// A header-less record names an event Xen never writes: garbage from
    /// here, which a run of possible records may also end.
    @inline(never)   // cold: keeps `step` as small as before
    private mutating func startPreludeGarbage(at offset: Int, header: UInt32) {
        let event = header & TraceRecord.eventMask
        startGarbage(at: offset, .garbage, "record header 0x\(hex8(header)) names event 0x\(hex8(event)), which Xen never writes (\(EventID.impossibility(event)))")
        garbageInPrelude = true
    }

    private mutating func startGarbage(at offset: Int, _ kind: TraceDiagnostic.Kind, _ why: String) {
        garbageStart = offset
        garbageInPrelude = false
        garbageKind = kind
        garbageWhy = why
    }

    /// Whether the garbage starting at `start` is all the input has shown
    /// (no record before it): then the input is not a trace at all, and the
    /// header-less-start note is dropped in favour of the one line saying so.
    @inline(never)   // cold: keeps `step` as small as before
    private mutating func garbageIsWholeInput(_ start: Int) -> Bool {
        guard !deliveredAny, preludeStart == start else { return false }
        diagnostics.removeAll { $0.kind == .noCPUChange }
        kindCounts[.noCPUChange] = 0
        return true
    }

    @inline(never)   // cold: keeps `step` as small as before
    private mutating func endGarbage(at offset: Int, eof: Bool, run: Bool = false) {
        guard let start = garbageStart else { return }
        garbageStart = nil
        if recordResyncPoints { resyncPoints[start] = offset }
        let n = offset - start
        let what = garbageInPrelude ? "plausible CPU-change record or run of records" : "plausible CPU-change record"
        if eof && garbageIsWholeInput(start) {
            note(.notATrace, start, cpu: nil, "not a xentrace trace: \(garbageWhy); no \(what) follows; \(n) byte(s) to the end of the input skipped")
            return
        }
        let how = eof ? "no \(what) follows; \(n) byte(s) to the end of the input skipped"
                : run ? "\(n) byte(s) skipped up to the next run of plausible records at byte \(offset)"
                      : "\(n) byte(s) skipped up to the next plausible CPU-change record at byte \(offset)"
        note(garbageKind, start, cpu: nil, "\(garbageWhy); \(how)")
    }

    /// Garbage went on for ``RecordScanner/maxGarbageBytes``: the input is
    /// not a trace from its start on. Reported once; reading stops.
    @inline(never)   // cold: keeps `step` as small as before
    private mutating func stopNotATrace() -> ScanStep {
        guard let start = garbageStart else { return .end }
        garbageStart = nil
        stopped = true
        let what = garbageInPrelude ? "plausible CPU-change record or run of records" : "plausible CPU-change record"
        _ = garbageIsWholeInput(start)
        note(.notATrace, start, cpu: nil,
             "\(garbageWhy); no \(what) in the \(RecordScanner.maxGarbageBytes) bytes from here: not a xentrace stream; stopped reading")
        return .end
    }

    /// Whether a run of records Xen could have written starts at `i`:
    /// ``runLength`` of them, or fewer ending exactly at a plausible
    /// CPU-change record or at the end of the input. nil: the buffer ends
    /// first (supply more).
    @inline(never)   // cold: keeps `step` as small as before
    private func recordRun(_ b: UnsafeRawBufferPointer, _ i: Int, base: Int, eof: Bool) -> Bool? {
        var p = i, n = 0
        while n < ScanCore.runLength {
            let avail = b.count - p
            if avail == 0 && eof { return n > 0 }
            if avail < 4 { return eof ? false : nil }
            let h = ScanCore.load32(b, p)
            if h == ScanCore.cpuChangeHeader && n > 0 {
                if avail < 12 { return eof ? false : nil }
                return plausible(cpu: ScanCore.load32(b, p + 4), size: ScanCore.load32(b, p + 8), at: base + p)
            }
            if !EventID.isPossible(h & TraceRecord.eventMask) { return false }
            let size = TraceRecord.size(header: h)
            if size > avail { return eof ? false : nil }
            p += size
            n += 1
        }
        return true
    }

    /// Looks for the end of the garbage that began at absolute `start`,
    /// from `pos` on: a plausible CPU-change record (found with memchr, so
    /// zeros and random bytes go by at memory speed) or, near the start of a
    /// header-less input, a run of possible records.
    @inline(never)   // cold: keeps `step` as small as before
    private mutating func resync(_ b: UnsafeRawBufferPointer, _ pos: inout Int, base: Int, eof: Bool, start: Int) -> ScanStep? {
        var i = pos
        let bound = start + RecordScanner.maxGarbageBytes - base   // buffer index where we give up
        if garbageInPrelude {
            let runEnd = min(start + ScanCore.preludeRunSearchBytes - base, bound)
            while i < runEnd {
                let avail = b.count - i
                if avail < 12 && !eof { pos = i; return .needMore }
                if avail < 4 { break }
                if avail >= 12, ScanCore.load32(b, i) == ScanCore.cpuChangeHeader,
                   plausible(cpu: ScanCore.load32(b, i + 4), size: ScanCore.load32(b, i + 8), at: base + i) {
                    endGarbage(at: base + i, eof: false)
                    pos = i
                    return nil
                }
                switch recordRun(b, i, base: base, eof: eof) {
                case .some(true):
                    endGarbage(at: base + i, eof: false, run: true)
                    pos = i
                    return nil
                case .none:
                    pos = i
                    return .needMore
                case .some(false):
                    i += 1
                }
            }
        }
        let last = min(b.count - 12, bound - 1)   // last candidate index in this buffer
        while i <= last {
            let chunkEnd = min(last, i + ScanCore.garbageDropChunk - 1)
            guard let hit = memchr(b.baseAddress! + i, 0x03, chunkEnd - i + 1) else {
                dropBehind?(base + i, chunkEnd + 1 - i)
                i = chunkEnd + 1
                continue
            }
            let j = b.baseAddress!.distance(to: UnsafeRawPointer(hit))
            if ScanCore.load32(b, j) == ScanCore.cpuChangeHeader,
               plausible(cpu: ScanCore.load32(b, j + 4), size: ScanCore.load32(b, j + 8), at: base + j) {
                endGarbage(at: base + j, eof: false)
                pos = j
                return nil
            }
            i = j + 1
        }
        if i >= bound { pos = i; return stopNotATrace() }
        if eof { return atEnd(b, &pos, base: base) }
        pos = max(pos, i)
        return .needMore
    }

    /// Reports what is left at the end of the input and stops.
    private mutating func atEnd(_ b: UnsafeRawBufferPointer, _ pos: inout Int, base: Int) -> ScanStep {
        let end = base + b.count
        let avail = b.count - pos
        if end == 0 {
            note(.emptyInput, 0, cpu: nil, "the input is empty: no trace records")
        }
        if garbageStart != nil {
            endGarbage(at: end, eof: true)
        } else if avail > 0 && skipLeft == 0 {
            if avail < 4 {
                note(.truncatedRecord, base + pos, cpu: cpu, "\(avail) trailing byte(s), too short for a record header")
            } else {
                let header = ScanCore.load32(b, pos)
                let size = (inWindow || windowless) ? TraceRecord.size(header: header) : 12
                let what = (inWindow || windowless) ? "record of \(size) bytes (event 0x\(hex8(header & TraceRecord.eventMask)))"
                                                    : "CPU-change record"
                note(.truncatedRecord, base + pos, cpu: cpu, "\(what) cut by the end of the input after \(avail) bytes")
            }
        }
        if let we = windowEnd, we > end, reportWindowPastEnd {
            note(.windowPastEnd, windowOffset, cpu: cpu,
                 "window of \(windowSize) bytes ends \(we - end) byte(s) past the end of the input")
        }
        windowEnd = nil
        inWindow = false
        skipLeft = 0
        pos = b.count
        return .end
    }

    /// Fast path for counting passes (`trace info`): calls `visit(header,
    /// tsc, firstWord)` for the complete, well-formed records at the start of
    /// the rest of the current window, without building `TraceRecord`s. It
    /// stops before anything unusual (a record crossing the window or the
    /// buffer, a TSC going backwards) and leaves that to ``step``, so the
    /// results and diagnostics are exactly those of the normal path.
    /// `visit` returns false to stop after that record.
    @inline(__always)
    mutating func countInWindow(_ b: UnsafeRawBufferPointer, _ pos: inout Int, _ visit: (UInt32, UInt64, UInt32) -> Bool) {
        guard inWindow, skipLeft == 0 else { return }
        var p = pos
        var left = windowLeft
        var tsc = curTSC
        let end = b.count
        while left >= 4 && end - p >= 4 {
            let h = ScanCore.load32(b, p)
            let size = TraceRecord.size(header: h)
            if size > left || size > end - p { break }
            var q = p + 4
            if h & 0x8000_0000 != 0 {
                let t = ScanCore.load64(b, q)
                if t < tsc { break }
                tsc = t
                q += 8
            }
            let more = visit(h, tsc, h & 0x7000_0000 != 0 ? ScanCore.load32(b, q) : 0)
            p += size
            left -= size
            if !more { break }
        }
        pos = p
        windowLeft = left
        curTSC = tsc
    }

    /// Reads within the current window only: returns `.end` when the window
    /// is complete (or the input ends inside it).
    mutating func stepInWindow(_ b: UnsafeRawBufferPointer, _ pos: inout Int, base: Int, eof: Bool) -> ScanStep {
        lastWasWindowHeader = false
        while true {
            if skipLeft > 0 {
                let n = min(skipLeft, b.count - pos)
                pos += n
                skipLeft -= n
                if skipLeft > 0 { return eof ? atEnd(b, &pos, base: base) : .needMore }
                windowEnd = nil
                return .end
            }
            guard inWindow else { return .end }
            if windowLeft == 0 {
                inWindow = false
                windowEnd = nil
                return .end
            }
            let avail = b.count - pos
            if avail < 4 { return eof ? atEnd(b, &pos, base: base) : .needMore }
            let header = ScanCore.load32(b, pos)
            let size = TraceRecord.size(header: header)
            if size > windowLeft {
                let left = windowLeft
                note(.recordCrossesWindow, base + pos, cpu: cpu,
                     "record of \(size) bytes (event 0x\(hex8(header & TraceRecord.eventMask))) crosses the end of its CPU window at byte \(base + pos + left); skipping \(left) byte(s)")
                skipLeft = left
                windowLeft = 0
                inWindow = false
                continue
            }
            if size > avail { return eof ? atEnd(b, &pos, base: base) : .needMore }
            let r = makeRecord(b, pos, base: base, header: header)
            pos += size
            windowLeft -= size
            return .record(r)
        }
    }

    /// The next record in file order.
    mutating func step(_ b: UnsafeRawBufferPointer, _ pos: inout Int, base: Int, eof: Bool) -> ScanStep {
        while true {
            if inWindow || skipLeft > 0 {
                let s = stepInWindow(b, &pos, base: base, eof: eof)
                if case .end = s, pos < b.count || !eof { continue }
                return s
            }
            lastWasWindowHeader = false
            if stopped { return .end }
            if let start = garbageStart {
                if let s = resync(b, &pos, base: base, eof: eof, start: start) { return s }
                continue
            }
            let avail = b.count - pos
            if avail < 4 { return eof ? atEnd(b, &pos, base: base) : .needMore }
            let header = ScanCore.load32(b, pos)
            if header == ScanCore.cpuChangeHeader {
                if avail < 12 { return eof ? atEnd(b, &pos, base: base) : .needMore }
                let c = ScanCore.load32(b, pos + 4)
                let size = ScanCore.load32(b, pos + 8)
                if c > RecordScanner.maxCPU {
                    startGarbage(at: base + pos, .implausibleCPU, "CPU-change record names CPU \(c), more than Xen supports")
                    pos += 1
                    continue
                }
                if size % 4 != 0 {
                    startGarbage(at: base + pos, .garbage, "CPU-change record for CPU \(c) has a window size of \(size) bytes, not a multiple of 4")
                    pos += 1
                    continue
                }
                let offset = base + pos
                enterWindow(cpu: c, size: Int(size), offset: offset)
                pos += 12
                var extra = ExtraWords()
                extra.w0 = c
                extra.w1 = size
                lastWasWindowHeader = true
                deliveredAny = true
                return .record(TraceRecord(cpu: c, header: header, tsc: curTSC, extra: extra, offset: offset))
            }
            if !started {
                started = true
                windowless = true
                preludeStart = base + pos
                note(.noCPUChange, base + pos, cpu: 0, "input does not start with a CPU-change record; reading records as CPU 0 until one appears")
            }
            if windowless {
                let event = header & TraceRecord.eventMask
                if !EventID.isPossible(event) {
                    startPreludeGarbage(at: base + pos, header: header)
                    pos += 1
                    continue
                }
                let size = TraceRecord.size(header: header)
                if size > avail { return eof ? atEnd(b, &pos, base: base) : .needMore }
                let r = makeRecord(b, pos, base: base, header: header)
                pos += size
                deliveredAny = true
                return .record(r)
            }
            startGarbage(at: base + pos, .garbage, "expected a CPU-change record (header 0x2001f003), found 0x\(hex8(header))")
            pos += 1
        }
    }
}

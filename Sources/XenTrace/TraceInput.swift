import BinaryIO
#if canImport(Glibc)
import Glibc
#endif

/// The order in which ``TraceInput/forEachRecord(order:_:)`` delivers records.
public enum RecordOrder: String, Sendable, CaseIterable {
    /// As stored: window after window, CPU after CPU.
    case file
    /// One time line: the per-CPU streams merged by TSC (records without a
    /// TSC use their CPU's last one); ties keep file order.
    case tsc
}

/// A trace to read: a regular file (memory-mapped, pages dropped behind the
/// reader so resident memory stays bounded), `-` for standard input, a pipe
/// or FIFO (read through a fixed buffer), or a gzip/xz/zstd-compressed trace
/// (detected by magic bytes, decompressed as a stream).
///
/// Damage never stops reading: every valid record is delivered and the
/// problems come back as ``TraceDiagnostic``s naming file, byte offset and
/// CPU. Offsets in a compressed input count decompressed bytes.
public final class TraceInput {
    /// The path as given (`-` for standard input).
    public let name: String
    /// How the input is compressed.
    public let compression: Compression
    private var mapping: MappedFile?
    private var stream: ByteStream?
    /// Problems met while copying a stream to a temporary file for TSC order.
    private var spillDiagnostics: [TraceDiagnostic] = []

    /// Bytes in one stream read; also the most a stream reader keeps.
    static let streamBuffer = 1 << 20
    /// Bytes a sequential reader consumes before dropping them from memory.
    static let dropChunk = 8 << 20

    /// Opens `path` (`-` = standard input). Throws ``BinaryIO/InputError``
    /// naming the file when it is missing, unreadable or a directory.
    public static func open(_ path: String) throws -> TraceInput {
        switch try InputSource.open(path) {
        case .mapped(let m): return TraceInput(name: path, mapping: m)
        case .stream(let s, let c):
            let t = TraceInput(name: path, stream: s, compression: c)
            var st = stat()
            t.isPipe = path == "-" || stat(path, &st) != 0 || (st.st_mode & S_IFMT) != S_IFREG
            return t
        }
    }

    /// Whether the input is standard input, a pipe, FIFO or device: it may
    /// never end (`cat /dev/zero |`), so a reader that must see all of it
    /// first (TSC order) is the wrong default for it.
    public private(set) var isPipe = false

    /// Most bytes of a stream that TSC order copies to its temporary file
    /// (nil: as long as the temporary directory keeps ``spillReserve`` free).
    /// Past it the rest of the stream is left unread and a diagnostic says so.
    public var spillLimit: Int?
    /// Free space the temporary copy leaves on its file system (bytes).
    static let spillReserve = 1 << 30

    /// Reads an already mapped file.
    public init(name: String, mapping: MappedFile) {
        self.name = name
        self.mapping = mapping
        compression = .none
    }

    /// Reads a stream (it can be read once in file order; TSC order copies it
    /// to a temporary file first). `size`, when known, lets resynchronisation
    /// reject CPU-change records whose window would pass the end, exactly as
    /// for a mapped file.
    public init(name: String, stream: ByteStream, compression: Compression = .none, size: Int? = nil) {
        self.name = name
        self.stream = stream
        self.compression = compression
        streamSize = size
    }
    private var streamSize: Int?

    /// Whether the input is a mapped file (random access, re-readable).
    public var isMapped: Bool { mapping != nil }
    /// Size in bytes when known (mapped files, and streams once spilled).
    public var size: Int? { mapping?.count }

    /// Calls `body` for each record in `order`; `body` returns false to stop.
    /// Returns the problems found (damage, with byte offsets and CPU), sorted
    /// by offset. Throws only if `body` throws or a stream was already read.
    @discardableResult
    public func forEachRecord(order: RecordOrder, _ body: (TraceRecord) throws -> Bool) throws -> [TraceDiagnostic] {
        var diags: [TraceDiagnostic]
        switch order {
        case .file:
            if let mapping {
                diags = try TraceInput.scanMapped(mapping, body)
            } else if let s = stream {
                stream = nil
                diags = try TraceInput.scanStream(s, size: streamSize, body)
            } else {
                throw InputError(file: name, "the input stream has already been read")
            }
        case .tsc:
            if mapping == nil { try spill() }
            diags = spillDiagnostics + (try TSCMerge.run(mapping!, body))
        }
        return diags.enumerated()
            .sorted { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }
            .map { var d = $0.element; d.file = name; return d }
    }

    // MARK: file order

    static func scanMapped(_ m: MappedFile, _ body: (TraceRecord) throws -> Bool) rethrows -> [TraceDiagnostic] {
        m.adviseSequential()
        return try m.withBytes { b in
            var core = ScanCore(inputSize: b.count)
            core.dropBehind = { m.dropPages(offset: $0, count: $1) }
            var pos = 0
            var dropped = 0
            while case .record(let r) = core.step(b, &pos, base: 0, eof: true) {
                if try !body(r) { break }
                if pos - dropped >= dropChunk {
                    m.dropPages(offset: dropped, count: pos - dropped)
                    dropped = pos
                }
            }
            m.dropPages(offset: dropped, count: pos - dropped)
            return core.finalDiagnostics()
        }
    }

    /// `trace info`'s pass over a mapped file in file order, through the
    /// scanner's counting fast path; nil for streams (they take the normal path).
    func countRecords(_ acc: inout TraceInfo.Accumulator) -> [TraceDiagnostic]? {
        guard let m = mapping else { return nil }
        m.adviseSequential()
        let d: [TraceDiagnostic] = m.withBytes { b in
            var core = ScanCore(inputSize: b.count)
            core.dropBehind = { m.dropPages(offset: $0, count: $1) }
            var pos = 0
            var dropped = 0
            while true {
                if core.inWindow {
                    let c = Int(core.cpu)
                    if c != acc.curIndex { acc.switchCPU(c) }
                    acc.countWindow(&core, b, &pos)
                }
                guard case .record(let r) = core.step(b, &pos, base: 0, eof: true) else { break }
                acc.add(r)
                if pos - dropped >= TraceInput.dropChunk {
                    m.dropPages(offset: dropped, count: pos - dropped)
                    dropped = pos
                }
            }
            m.dropPages(offset: dropped, count: pos - dropped)
            return core.finalDiagnostics()
        }
        return d.enumerated()
            .sorted { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }
            .map { var x = $0.element; x.file = name; return x }
    }

    static func scanStream(_ s: ByteStream, size: Int?, _ body: (TraceRecord) throws -> Bool) throws -> [TraceDiagnostic] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: streamBuffer, alignment: 16)
        defer { buffer.deallocate() }
        var core = ScanCore(inputSize: size)
        var extra: [TraceDiagnostic] = []
        var filled = 0, pos = 0, base = 0
        var eof = false
        loop: while true {
            let view = UnsafeRawBufferPointer(rebasing: buffer[0..<filled])
            switch core.step(view, &pos, base: base, eof: eof) {
            case .record(let r):
                if try !body(r) { break loop }
            case .end:
                break loop
            case .needMore:
                let rest = filled - pos
                if pos > 0 {
                    if rest > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + pos, byteCount: rest) }
                    base += pos
                    pos = 0
                    filled = rest
                }
                do {
                    let n = try s.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                    if n == 0 { eof = true } else { filled += n }
                } catch let e as InputError {
                    extra.append(TraceDiagnostic(.ioError, offset: base + filled, cpu: nil, e.description))
                    eof = true
                }
            }
        }
        return core.finalDiagnostics() + extra
    }

    // MARK: TSC order on a stream

    /// Copies the stream into an unlinked temporary file and maps it, so the
    /// per-CPU cursors can seek. Needs disk space for the decompressed trace.
    private func spill() throws {
        guard let s = stream else { throw InputError(file: name, "the input stream has already been read") }
        stream = nil
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(dir)/xenscope-spill-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw InputError(file: name, "cannot create a temporary file in \(dir) for TSC order: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TraceInput.streamBuffer, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        var nextSpaceCheck = 0
        // A window walk over the bytes as they are copied (quiet: the mapped
        // walk reports), so that a stream that is not a trace (`cat
        // /dev/zero |`) stops the copy where the reader would stop anyway.
        var walk = ScanCore(inputSize: nil)
        walk.skipWindowContents = true
        walk.quiet = true
        var carry = 0, walkPos = 0, walkBase = 0
        copying: while true {
            if let limit = spillLimit, total >= limit {
                // Only a stream with more to give was cut.
                var probe: UInt8 = 0
                if (try? withUnsafeMutableBytes(of: &probe) { try s.read(into: $0) }) ?? 0 > 0 {
                    spillStopped(at: total, dir: dir, "its limit of \(limit) bytes reached")
                }
                break
            }
            if total >= nextSpaceCheck {
                // An endless stream must not fill the disk: stop while space is left.
                var fs = statvfs()
                if fstatvfs(fd, &fs) == 0 && Int(fs.f_bavail) * Int(fs.f_frsize) < TraceInput.spillReserve {
                    spillStopped(at: total, dir: dir, "less than \(TraceInput.spillReserve >> 20) MiB left free there")
                    break
                }
                nextSpaceCheck = total + (64 << 20)
            }
            let n: Int
            do {
                n = try s.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[carry ..< carry + min(buffer.count - carry, (spillLimit ?? Int.max) - total)]))
            } catch let e as InputError {
                spillDiagnostics.append(TraceDiagnostic(.ioError, offset: total, cpu: nil, e.description))
                break
            }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = write(fd, buffer.baseAddress! + carry + done, n - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    // Keep what was copied: its records are still worth reading.
                    spillStopped(at: total + done, dir: dir, "write error: \(String(cString: strerror(errno)))")
                    total += done
                    break copying
                }
                done += w
            }
            total += n
            let filled = carry + n
            let view = UnsafeRawBufferPointer(rebasing: buffer[0 ..< filled])
            walking: while true {
                switch walk.step(view, &walkPos, base: walkBase, eof: false) {
                case .record: continue
                case .end: if walk.stopped { break copying }; break walking
                case .needMore: break walking
                }
            }
            // Keep the bytes the walk has not consumed (a header, a record or
            // a few bytes of garbage: far less than the buffer).
            carry = filled - walkPos
            if carry > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + walkPos, byteCount: carry) }
            walkBase += walkPos
            walkPos = 0
        }
        mapping = try MappedFile(fd: fd, path: name, size: total)
    }

    private func spillStopped(at total: Int, dir: String, _ reason: String) {
        spillDiagnostics.append(TraceDiagnostic(.ioError, offset: total, cpu: nil,
            "TSC order copies a stream to a temporary file in \(dir) first; stopped: \(reason); the rest of the input is not read (use file order for endless or very long streams)"))
    }
}

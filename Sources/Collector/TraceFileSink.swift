import TraceRing
#if canImport(Glibc)
import Glibc
#endif

/// Where the collector puts windows: straight into the output
/// (``TraceFileSink``) or into a circular memory buffer written at the end
/// (``FlightRecorderSink``).
public protocol TraceSink: AnyObject {
    /// Takes one window (copies it: the ring is released afterwards).
    func write(_ w: RingWindow) throws
    /// Ends the output (a flight recorder writes its buffer now).
    func finish() throws
    /// Bytes held so far: in the file, or in the memory buffer.
    var committed: Int64 { get }
    /// Records and bytes dropped to make room for newer ones, per CPU.
    var overwritten: [UInt32: OverwrittenCount] { get }
}

extension TraceSink {
    public var overwritten: [UInt32: OverwrittenCount] { [:] }
}

/// What a flight recorder dropped from one CPU's records (wrap padding not
/// counted as records, but counted in bytes).
public struct OverwrittenCount: Sendable, Equatable {
    public var records = 0
    public var bytes: Int64 = 0
    public init(records: Int = 0, bytes: Int64 = 0) { self.records = records; self.bytes = bytes }
}

/// Writing the next window would leave less free disk space than
/// `--reserve-disk-space` asks for: recording stops, the file stays valid.
public struct DiskReserveReached: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// The output trace: per-CPU windows, each a 12-byte
/// TRC_TRACE_CPU_CHANGE record {cpu, bytes} followed by the ring bytes.
///
/// A file is never appended to: it must not exist. After every complete
/// window the valid length (`committed`) advances; if a write fails (disk
/// full, file size limit) a file is cut back to `committed` and synced, so it
/// ends at the last complete window. Standard output (a pipe or a file the
/// shell opened) gets the same bytes; it cannot be cut back.
public final class TraceFileSink: TraceSink {
    public let path: String
    /// Bytes of complete windows written so far.
    public private(set) var committed: Int64 = 0
    /// Keep at least this many bytes free on the output's file system
    /// (nil: no check). Checked before every window, as xentrace's `-r`.
    public var reserveBytes: Int64?
    private var fd: Int32
    private let isStdout: Bool

    public init(path: String) throws {
        self.path = path
        isStdout = false
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if errno == EEXIST {
                throw CollectorError("\(path) already exists; xenscope never appends to or overwrites a trace file (it may be torn): choose a new name")
            }
            throw CollectorError("\(path): cannot create: \(String(cString: strerror(errno)))")
        }
    }

    /// Writes to file descriptor 1; refuses a terminal (binary data).
    public init(standardOutput: ()) throws {
        path = "standard output"
        isStdout = true
        fd = 1
        if isatty(1) != 0 {
            fd = -1
            throw CollectorError("standard output is a terminal; give -o FILE or redirect it (a trace is binary)")
        }
    }

    deinit { if fd >= 0 && !isStdout { close(fd) } }

    /// Free bytes on the output's file system for an unprivileged writer,
    /// or nil if it cannot be told (a pipe).
    public func freeBytes() -> Int64? { fileSystemSpace()?.free }

    /// Free bytes and the block size of the output's file system, or nil if
    /// it cannot be told (a pipe).
    public func fileSystemSpace() -> (free: Int64, block: Int64)? {
        var s = statvfs()
        guard fd >= 0, fstatvfs(fd, &s) == 0 else { return nil }
        if isStdout {   // a pipe's "file system" says nothing about any disk
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        }
        return (Int64(s.f_bavail) * Int64(s.f_frsize), max(1, Int64(s.f_frsize)))
    }

    /// Writes one window: CPU-change record, then the one or two chunks.
    public func write(_ w: RingWindow) throws {
        try write(cpu: w.cpu, chunks: [w.first, w.second])
    }

    /// Writes one window made of `chunks` (empty ones allowed).
    public func write(cpu: UInt32, chunks: [UnsafeRawBufferPointer]) throws {
        let bytes = chunks.reduce(0) { $0 + $1.count }
        if let reserve = reserveBytes, let free = freeBytes(), free - Int64(12 + bytes) < reserve {
            throw DiskReserveReached(message: "\(path): writing the next window (\(12 + bytes) bytes) would leave \(free - Int64(12 + bytes)) bytes free, less than the \(reserve) bytes --reserve-disk-space keeps; stopped: the file ends at byte \(committed), after its last complete window, and is valid")
        }
        var header: (UInt32, UInt32, UInt32) = (UInt32(0x2001_f003).littleEndian, cpu.littleEndian, UInt32(bytes).littleEndian)
        try withUnsafeBytes(of: &header) { h in
            var parts = ([h] + chunks).filter { $0.count > 0 }
            var left = parts.reduce(0) { $0 + $1.count }
            while left > 0 {
                var iov = parts.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
                let n = writev(fd, &iov, Int32(min(iov.count, 1024)))
                if n < 0 {
                    if errno == EINTR { continue }
                    try fail(errno)
                }
                if n == 0 { try fail(ENOSPC) }
                left -= n
                // Drop what was written from the front of `parts`.
                var done = n
                while done > 0, let first = parts.first {
                    if done >= first.count { done -= first.count; parts.removeFirst() }
                    else { parts[0] = UnsafeRawBufferPointer(rebasing: first[done...]); done = 0 }
                }
            }
        }
        committed += Int64(12 + bytes)
    }

    private func fail(_ e: Int32) throws -> Never {
        let what = e == ENOSPC || e == EDQUOT ? "disk full" : e == EFBIG ? "file size limit reached" : e == EPIPE ? "reader went away" : "write failed"
        if isStdout {
            throw CollectorError("\(path): \(what) (\(String(cString: strerror(e)))) after \(committed) bytes of complete windows; the last window may be cut short")
        }
        _ = ftruncate(fd, off_t(committed))
        _ = fsync(fd)
        throw CollectorError("\(path): \(what) (\(String(cString: strerror(e)))); the file ends at byte \(committed), after its last complete window, and is valid up to there")
    }

    /// Syncs and closes the file.
    public func finish() throws {
        guard fd >= 0 else { return }
        let r = fsync(fd)
        let e = errno
        if !isStdout { close(fd) }
        fd = -1
        if r != 0 && e != EINVAL && e != EROFS { throw CollectorError("\(path): fsync failed: \(String(cString: strerror(e)))") }
    }
}

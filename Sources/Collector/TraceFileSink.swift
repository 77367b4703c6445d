import TraceRing
#if canImport(Glibc)
import Glibc
#endif

/// The output trace file: per-CPU windows, each a 12-byte
/// TRC_TRACE_CPU_CHANGE record {cpu, bytes} followed by the ring bytes.
///
/// Never appends: the file must not exist. After every complete window the
/// valid length (`committed`) advances; if a write fails (disk full, file
/// size limit) the file is cut back to `committed` and synced, so it ends at
/// the last complete window.
public final class TraceFileSink {
    public let path: String
    /// Bytes of complete windows written so far.
    public private(set) var committed: Int64 = 0
    private var fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if errno == EEXIST {
                throw CollectorError("\(path) already exists; xenscope never appends to or overwrites a trace file (it may be torn): choose a new name")
            }
            throw CollectorError("\(path): cannot create: \(String(cString: strerror(errno)))")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Writes one window: CPU-change record, then the one or two chunks.
    public func write(_ w: RingWindow) throws {
        var header: (UInt32, UInt32, UInt32) = (UInt32(0x2001_f003).littleEndian, w.cpu.littleEndian, UInt32(w.count).littleEndian)
        try withUnsafeBytes(of: &header) { h in
            var parts = [h, w.first, w.second].filter { $0.count > 0 }
            var left = parts.reduce(0) { $0 + $1.count }
            while left > 0 {
                var iov = parts.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
                let n = writev(fd, &iov, Int32(iov.count))
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
        committed += Int64(12 + w.count)
    }

    private func fail(_ e: Int32) throws -> Never {
        _ = ftruncate(fd, off_t(committed))
        _ = fsync(fd)
        let what = e == ENOSPC || e == EDQUOT ? "disk full" : e == EFBIG ? "file size limit reached" : "write failed"
        throw CollectorError("\(path): \(what) (\(String(cString: strerror(e)))); the file ends at byte \(committed), after its last complete window, and is valid up to there")
    }

    /// Syncs and closes the file.
    public func finish() throws {
        guard fd >= 0 else { return }
        let r = fsync(fd)
        let e = errno
        close(fd)
        fd = -1
        if r != 0 && e != EINVAL && e != EROFS { throw CollectorError("\(path): fsync failed: \(String(cString: strerror(e)))") }
    }
}

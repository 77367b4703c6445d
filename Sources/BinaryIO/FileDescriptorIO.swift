#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole reads and writes of small files on a file descriptor, again after
/// EINTR: the loops every sidecar reader and writer needs, here so that
/// their callers hold no pointers. A failure comes back as the `errno` of
/// the failing call, taken at once, with how far it got.
public enum FileDescriptorIO {
    /// Reads `fd` to its end, `chunk` bytes at a time, stopping once more
    /// than `limit` bytes have come (so a caller can refuse a file that is
    /// too large without reading all of it). `failure` is the errno of a
    /// failed read(2); `bytes` are then those read before it.
    public static func read(_ fd: Int32, limit: Int, chunk: Int = 4096) -> (bytes: [UInt8], failure: Int32?) {
        var bytes = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: chunk)
        while bytes.count <= limit {
            #if canImport(Glibc)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            #else
            let n = buffer.withUnsafeMutableBytes { Darwin.read(fd, $0.baseAddress, $0.count) }
            #endif
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                return (bytes, e)
            }
            if n == 0 { break }
            bytes += buffer[0 ..< n]
        }
        return (bytes, nil)
    }

    /// Writes all of `bytes` to `fd`. `failure` is the errno of a write(2)
    /// that failed or wrote nothing; `written` is how many bytes went out.
    public static func write(_ fd: Int32, _ bytes: [UInt8]) -> (written: Int, failure: Int32?) {
        var done = 0
        while done < bytes.count {
            #if canImport(Glibc)
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            #else
            let n = bytes[done...].withUnsafeBytes { Darwin.write(fd, $0.baseAddress, $0.count) }
            #endif
            let e = errno
            if n < 0 && e == EINTR { continue }
            guard n > 0 else { return (done, e) }
            done += n
        }
        return (done, nil)
    }
}

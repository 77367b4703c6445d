#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole regular file.
///
/// The mapping is private and read-only, so nothing we do can change the file.
/// Large inputs should be read through ``MappedWindows`` instead, which keeps
/// resident memory bounded; this type suits files that are read at random
/// (dumps, ELF images), where the kernel's page cache does the bounding.
public final class MappedFile: @unchecked Sendable {
    /// Path as given by the caller; used in error messages.
    public let path: String
    /// Size of the file in bytes.
    public let count: Int
    private let base: UnsafeRawPointer?

    /// Maps `path`. Throws an ``InputError`` naming the file when it cannot be
    /// opened, is not a regular file, or cannot be mapped.
    ///
    /// Opened non-blocking: a FIFO with no writer would otherwise block in
    /// open(2) for ever before the check below could refuse it (regular files
    /// ignore the flag).
    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            // "-" names standard input to the commands that stream; a mapping
            // reader cannot take it (unless a file is really called "-").
            if path == "-" && errno == ENOENT {
                throw InputError(file: path, "standard input cannot be read by this command: it maps its input, give a file (`trace info` and `trace decode` read standard input)")
            }
            throw InputError(file: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw InputError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw InputError(file: path, MappedFile.notRegular(st.st_mode))
        }
        try self.init(fd: fd, path: path, size: Int(st.st_size))
    }

    /// Maps `size` bytes of the open regular file `fd` (the caller keeps
    /// ownership of `fd`; the mapping stays valid after it is closed).
    public init(fd: Int32, path: String, size: Int) throws {
        self.path = path
        count = size
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw InputError(file: path, "cannot map \(count) bytes: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    /// Why a file of this kind cannot be mapped, in words.
    static func notRegular(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "is a directory"
        case S_IFIFO: return "is not a regular file (a FIFO); this command reads at random, give a file"
        case S_IFCHR: return "is not a regular file (a character device); this command reads at random, give a file"
        case S_IFBLK: return "is not a regular file (a block device); this command reads at random, give a file"
        case S_IFSOCK: return "is not a regular file (a socket); this command reads at random, give a file"
        default: return "is not a regular file"
        }
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// Calls `body` with the whole file's bytes. The buffer must not escape.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Tells the kernel the bytes will be read front to back (more read-ahead).
    public func adviseSequential() {
        guard let base else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_SEQUENTIAL)
    }

    /// Tells the kernel the given range will not be needed again soon, so its
    /// pages can leave our resident set (used by sequential scanners).
    public func dropPages(offset: Int, count: Int) {
        guard let base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset & ~(page - 1)
        let end = min(self.count, offset + count)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }
}

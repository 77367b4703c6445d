#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Compression formats recognised by their magic bytes (never by file name).
public enum Compression: String, Sendable, Equatable {
    case none, gzip, xz, zstd

    /// Longest magic we look at.
    public static let magicLength = 6

    /// The format whose magic `prefix` starts with.
    public static func detect(_ prefix: [UInt8]) -> Compression {
        if prefix.count >= 2, prefix[0] == 0x1f, prefix[1] == 0x8b { return .gzip }
        if prefix.count >= 6, prefix[0..<6] == [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] { return .xz }
        if prefix.count >= 4, prefix[0..<4] == [0x28, 0xb5, 0x2f, 0xfd] { return .zstd }
        return .none
    }
}

/// An opened input, ready to be read: a regular uncompressed file is mapped
/// (random access, readers drop pages behind them); everything else — standard
/// input, pipes, FIFOs, devices, compressed files — is a ``ByteStream``.
public enum InputSource {
    case mapped(MappedFile)
    case stream(ByteStream, Compression)

    /// Opens `path` (`-` is standard input). Throws an ``InputError`` naming the
    /// file for missing or unreadable files, directories and devices.
    public static func open(_ path: String) throws -> InputSource {
        let fd: Int32
        if path == "-" {
            fd = 0
        } else {
            fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw InputError(file: path, "cannot open: \(String(cString: strerror(errno)))") }
        }
        let owns = path != "-"
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = InputError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
            if owns { close(fd) }
            throw e
        }
        let kind = st.st_mode & S_IFMT
        if kind == S_IFDIR {
            if owns { close(fd) }
            throw InputError(file: path, "is a directory")
        }
        // A device named on the command line (`/dev/zero`, a terminal) is never
        // a trace, and some never end: reading one would run for ever. Standard
        // input (`-`) stays allowed whatever it is, as for any Unix filter.
        if owns, kind == S_IFCHR || kind == S_IFBLK {
            close(fd)
            throw InputError(file: path, "is a \(kind == S_IFCHR ? "character" : "block") device, not a file or a pipe")
        }
        if kind == S_IFREG {
            var magic = [UInt8](repeating: 0, count: Compression.magicLength)
            let n = magic.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                let e = InputError(file: path, offset: 0, "read failed: \(String(cString: strerror(errno)))")
                if owns { close(fd) }
                throw e
            }
            let format = Compression.detect(Array(magic.prefix(n)))
            if format == .none {
                defer { if owns { close(fd) } }
                return .mapped(try MappedFile(fd: fd, path: path, size: Int(st.st_size)))
            }
            return .stream(try Decompressor.wrap(FileStream(fd: fd, name: path, ownsFD: owns), format), format)
        }
        let raw = FileStream(fd: fd, name: path, ownsFD: owns)
        let magic = try raw.readUpTo(Compression.magicLength)
        raw.pushBack(magic)
        let format = Compression.detect(magic)
        return .stream(format == .none ? raw : try Decompressor.wrap(raw, format), format)
    }
}

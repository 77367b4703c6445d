import CLZO
import CSnappy
import CZlib
import CZstd

/// The compressions a kdump-compressed page descriptor can name (its `flags`:
/// makedumpfile `DUMP_DH_COMPRESSED_*`), each decoded by the Debian library
/// makedumpfile itself links: zlib `uncompress`, LZO1X (`lzo1x_decompress_safe`,
/// the bounds-checked decoder), snappy's C API, and zstd's one-shot frame decoder.
/// Every decoder writes at most one page and never reads past the source.
public enum PageCodec: Sendable, Equatable {
    case zlib, lzo, snappy, zstd

    /// The codec a descriptor's flags name (zlib wins when a hostile file sets several bits, like makedumpfile).
    public init(flags: UInt32) {
        if flags & KdumpCompressedDump.flagZlib != 0 { self = .zlib }
        else if flags & KdumpCompressedDump.flagLZO != 0 { self = .lzo }
        else if flags & KdumpCompressedDump.flagSnappy != 0 { self = .snappy }
        else { self = .zstd }
    }

    public var name: String {
        switch self {
        case .zlib: "zlib"
        case .lzo: "lzo"
        case .snappy: "snappy"
        case .zstd: "zstd"
        }
    }

    /// Outcome of one page: bytes written, or the library's complaint.
    public enum Result: Sendable, Equatable {
        case ok(Int)
        case failed(String)
    }

    /// LZO wants lzo_init() once per process; a static let runs it once, thread-safely.
    private static let lzoReady: Bool = xenscope_lzo_init() == 0

    /// Decompresses `src` into `dst` (whose size is the page size).
    public func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) -> Result {
        guard let s = src.baseAddress, let d = dst.baseAddress, src.count > 0 else { return .failed("empty page") }
        switch self {
        case .zlib:
            var outLen = uLongf(dst.count)
            let rc = uncompress(d.assumingMemoryBound(to: Bytef.self), &outLen, s.assumingMemoryBound(to: Bytef.self), uLong(src.count))
            return rc == Z_OK ? .ok(Int(outLen)) : .failed("zlib error \(rc)")
        case .lzo:
            guard Self.lzoReady else { return .failed("liblzo2 did not initialise") }
            var outLen = UInt(dst.count)
            let rc = xenscope_lzo1x_decompress(s.assumingMemoryBound(to: UInt8.self), UInt(src.count), d.assumingMemoryBound(to: UInt8.self), &outLen)
            return rc == 0 ? .ok(Int(outLen)) : .failed("lzo error \(rc)")
        case .snappy:
            var outLen = dst.count
            let rc = snappy_uncompress(s.assumingMemoryBound(to: CChar.self), src.count, d.assumingMemoryBound(to: CChar.self), &outLen)
            return rc == SNAPPY_OK ? .ok(outLen) : .failed("snappy status \(rc.rawValue)")
        case .zstd:
            let rc = ZSTD_decompress(d, dst.count, s, src.count)
            if ZSTD_isError(rc) != 0 { return .failed("zstd: " + String(cString: ZSTD_getErrorName(rc))) }
            return .ok(rc)
        }
    }
}

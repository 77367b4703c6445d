import CLZMA
import CZlib
import CZstd

/// Streams the decompressed bytes of a gzip, xz or zstd ``ByteStream``
/// through the system libraries (zlib, liblzma, libzstd), a fixed-size chunk
/// at a time: neither the compressed nor the decompressed data is ever held
/// whole in memory. Concatenated members/streams/frames are read one after
/// the other, as `zcat`, `xzcat` and `zstdcat` do.
///
/// Damage (corrupt data, a stream cut short) is thrown as an ``InputError``
/// whose offset is the *compressed* byte where decoding stopped; every byte
/// decoded before it has already been delivered.
public final class Decompressor: ByteStream {
    public var name: String { source.name }
    public let format: Compression
    private let source: ByteStream
    private let input: UnsafeMutableRawBufferPointer
    private var inPos = 0, inCount = 0
    private var sourceEOF = false
    private var done = false
    /// True when the last thing decoded was the end of a complete member/frame.
    private var boundary = false
    /// Compressed bytes consumed so far.
    public private(set) var compressedOffset = 0
    /// Decompressed bytes delivered so far.
    public private(set) var offset = 0
    private var zlib: UnsafeMutablePointer<z_stream>?
    private var lzma: UnsafeMutablePointer<lzma_stream>?
    private var zstd: OpaquePointer?

    /// `source` decompressed as `format`, or `source` itself for `.none`.
    public static func wrap(_ source: ByteStream, _ format: Compression) throws -> ByteStream {
        format == .none ? source : try Decompressor(source, format)
    }

    public init(_ source: ByteStream, _ format: Compression, inputChunk: Int = 1 << 18) throws {
        self.source = source
        self.format = format
        input = .allocate(byteCount: inputChunk, alignment: 16)
        switch format {
        case .gzip:
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            zlib = z
            guard xenscope_inflate_init(z) == Z_OK else { throw InputError(file: source.name, "cannot start zlib") }
        case .xz:
            let s = UnsafeMutablePointer<lzma_stream>.allocate(capacity: 1)
            s.initialize(to: lzma_stream())
            lzma = s
            guard xenscope_xz_init(s) == LZMA_OK else { throw InputError(file: source.name, "cannot start liblzma") }
        case .zstd:
            guard let d = ZSTD_createDStream() else { throw InputError(file: source.name, "cannot start libzstd") }
            zstd = d
            _ = ZSTD_initDStream(d)
        case .none:
            throw InputError(file: source.name, "not compressed")
        }
    }

    deinit {
        if let zlib { inflateEnd(zlib); zlib.deallocate() }
        if let lzma { lzma_end(lzma); lzma.deallocate() }
        if let zstd { ZSTD_freeDStream(zstd) }
        input.deallocate()
    }

    public func read(into out: UnsafeMutableRawBufferPointer) throws -> Int {
        guard out.count > 0, !done else { return 0 }
        while true {
            if inPos == inCount && !sourceEOF {
                inCount = try source.read(into: input)
                inPos = 0
                if inCount == 0 { sourceEOF = true }
            }
            let had = inCount - inPos
            let produced = try step(out)
            let consumed = had - (inCount - inPos)
            compressedOffset += consumed
            if produced > 0 {
                offset += produced
                return produced
            }
            if done { return 0 }
            if sourceEOF && inPos == inCount {
                if format != .xz && boundary { done = true; return 0 }
                throw InputError(file: name, offset: compressedOffset,
                                 "\(format.rawValue) data ends early (truncated after \(offset) decompressed bytes)")
            }
            if consumed == 0 && inPos < inCount {
                throw InputError(file: name, offset: compressedOffset, "corrupt \(format.rawValue) data: decoder makes no progress")
            }
        }
    }

    /// One call into the library; returns the bytes written to `out`.
    private func step(_ out: UnsafeMutableRawBufferPointer) throws -> Int {
        let avail = inCount - inPos
        let next = input.baseAddress! + inPos
        let outCount = min(out.count, Int(UInt32.max))
        switch format {
        case .gzip:
            let z = zlib!
            z.pointee.next_in = next.assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_in = UInt32(avail)
            z.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_out = UInt32(outCount)
            let ret = inflate(z, Z_NO_FLUSH)
            inPos += avail - Int(z.pointee.avail_in)
            let produced = outCount - Int(z.pointee.avail_out)
            switch ret {
            case Z_STREAM_END:
                boundary = true
                inflateReset(z)   // another gzip member may follow
            case Z_OK:
                if produced > 0 || avail > Int(z.pointee.avail_in) { boundary = false }
            case Z_BUF_ERROR:
                break
            default:
                let msg = z.pointee.msg.map { String(cString: $0) } ?? "error \(ret)"
                throw InputError(file: name, offset: compressedOffset, "corrupt gzip data (after \(offset) decompressed bytes): \(msg)")
            }
            return produced
        case .xz:
            let s = lzma!
            s.pointee.next_in = UnsafePointer(next.assumingMemoryBound(to: UInt8.self))
            s.pointee.avail_in = avail
            s.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            s.pointee.avail_out = outCount
            let ret = lzma_code(s, sourceEOF ? LZMA_FINISH : LZMA_RUN)
            inPos += avail - s.pointee.avail_in
            let produced = outCount - s.pointee.avail_out
            switch ret {
            case LZMA_OK, LZMA_BUF_ERROR: break
            case LZMA_STREAM_END: done = true; boundary = true
            default:
                throw InputError(file: name, offset: compressedOffset, "corrupt xz data (after \(offset) decompressed bytes): liblzma error \(ret.rawValue)")
            }
            return produced
        case .zstd:
            var inb = ZSTD_inBuffer(src: UnsafeRawPointer(next), size: avail, pos: 0)
            var outb = ZSTD_outBuffer(dst: out.baseAddress, size: outCount, pos: 0)
            let r = ZSTD_decompressStream(zstd, &outb, &inb)
            if ZSTD_isError(r) != 0 {
                throw InputError(file: name, offset: compressedOffset + inb.pos,
                                 "corrupt zstd data (after \(offset) decompressed bytes): \(String(cString: ZSTD_getErrorName(r)))")
            }
            inPos += inb.pos
            if r == 0 { boundary = true } else if inb.pos > 0 || outb.pos > 0 { boundary = false }
            return outb.pos
        case .none:
            return 0
        }
    }
}

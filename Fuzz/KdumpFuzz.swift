#if canImport(Glibc)
import Glibc
#endif
import Dump

/// kdump-compressed headers, bitmaps, descriptors and zlib/lzo/snappy/zstd
/// pages (seeds of each codec from scripts/fuzz-dump.sh), plain or flattened,
/// from arbitrary bytes (written to a file: the reader maps files).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKdump(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let path = "/dev/shm/xenscope-fuzz-kdump-\(getpid())"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    _ = write(fd, data, size)
    close(fd)
    defer { unlink(path) }
    guard let d = try? KdumpCompressedDump(path: path) else { return 0 }
    var n = 0
    for r in d.physicalRanges {
        var pfn = r.lowerBound >> 12
        while pfn < r.upperBound >> 12 && n < 64 {
            _ = try? d.withPage(pfn) { $0.count }
            pfn += 1
            n += 1
        }
    }
    _ = try? d.withPage(UInt64.max >> 1) { $0.count }
    for c in d.cpus.prefix(4) {
        if let w = PageWalker(dump: d, cpu: c) { _ = try? w.translate(c.rip) }
    }
    return 0
}


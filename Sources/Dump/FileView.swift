import BinaryIO

/// Random access to the logical bytes of a dump file: either the mapped file
/// itself, or the file makedumpfile's flattened stream describes.
///
/// The flattened form (makedumpfile `-F`, and every QEMU `kdump-*` dump)
/// starts with a 4096-byte header: "makedumpfile" in a 16-byte field, then
/// big-endian i64 type (1) and version (1). Records follow: big-endian i64
/// offset and i64 size, then `size` bytes that belong at `offset` of the
/// rearranged file; offset = size = −1 ends the stream. We index the records
/// instead of rearranging (makedumpfile -R would copy the whole file).
final class FileView {
    let file: MappedFile
    /// Flattened records sorted by logical offset: (logical, size, file offset).
    private let records: [(logical: UInt64, size: UInt64, fileOffset: Int)]
    let isFlattened: Bool
    /// Logical size of the file.
    let count: UInt64
    /// Problems met while indexing (truncated stream, overlaps).
    private(set) var diagnostics: [InputError] = []

    static let flatHeaderSize = 4096
    static func isFlattened(_ m: MappedFile) -> Bool {
        m.count >= flatHeaderSize && m.withBytes { b in
            Array(b[0..<13]) == Array("makedumpfile".utf8) + [0]
        }
    }

    init(file: MappedFile) throws {
        self.file = file
        guard Self.isFlattened(file) else {
            isFlattened = false
            records = []
            count = UInt64(file.count)
            return
        }
        isFlattened = true
        var recs = [(logical: UInt64, size: UInt64, fileOffset: Int)]()
        var problems = [InputError]()
        file.withBytes { b in
            func be64(_ o: Int) -> Int64 { Int64(bigEndian: b.loadUnaligned(fromByteOffset: o, as: Int64.self)) }
            var pos = Self.flatHeaderSize
            while true {
                guard pos + 16 <= b.count else {
                    problems.append(InputError(file: file.path, offset: pos, "flattened dump ends without its end marker (truncated); using the \(recs.count) records before it"))
                    break
                }
                let off = be64(pos), size = be64(pos + 8)
                if off == -1 && size == -1 { break }
                guard off >= 0, size >= 0, size <= Int64(b.count - pos - 16) else {
                    problems.append(InputError(file: file.path, offset: pos, off < 0 || size < 0
                        ? "flattened record has offset \(off), size \(size); stream ends here"
                        : "flattened record of \(size) bytes runs past the end of the file (truncated); stream ends here"))
                    break
                }
                recs.append((UInt64(off), UInt64(size), pos + 16))
                pos += 16 + Int(size)
            }
        }
        // Sorted by logical offset (stream order among equal starts), then
        // made disjoint: a byte two records claim comes from the earlier one
        // (makedumpfile never writes overlaps; a hostile stream may, and
        // overlapping or empty records would otherwise make a lookup scan
        // records that cannot hold the byte).
        recs.sort { ($0.logical, $0.fileOffset) < ($1.logical, $1.fileOffset) }
        var disjoint = [(logical: UInt64, size: UInt64, fileOffset: Int)]()
        disjoint.reserveCapacity(recs.count)
        var covered: UInt64 = 0
        var firstOverlap: Int? = nil
        for var r in recs where r.size > 0 {
            let (end, wraps) = r.logical.addingReportingOverflow(r.size)
            if wraps {
                problems.append(InputError(file: file.path, offset: r.fileOffset - 16, "flattened record at logical offset \(r.logical) of \(r.size) bytes wraps the address space; ignored"))
                continue
            }
            if !disjoint.isEmpty, r.logical < covered {
                if firstOverlap == nil { firstOverlap = r.fileOffset - 16 }
                guard end > covered else { continue }
                let cut = covered - r.logical
                r = (covered, r.size - cut, r.fileOffset + Int(cut))
            }
            disjoint.append(r)
            covered = end
        }
        if let o = firstOverlap {
            problems.append(InputError(file: file.path, offset: o, "flattened records overlap (first here); bytes claimed twice are read from the record at the lower logical offset"))
        }
        records = disjoint
        count = covered
        diagnostics = problems
    }

    /// Calls `body` with `count` logical bytes at `offset`. Contiguous pieces
    /// are handed over without copying; a range that spans flattened records
    /// is gathered into a temporary buffer, allocated only once every byte is
    /// known to be there (a hostile size must not allocate). Throws if any
    /// byte is missing.
    func withBytes<R>(offset: UInt64, count n: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard isFlattened else {
            guard offset <= UInt64(file.count), UInt64(n) <= UInt64(file.count) - offset else {
                throw InputError(file: file.path, offset: Int(clamping: offset), "needs \(n) bytes here but the file has \(file.count) bytes (truncated dump)")
            }
            return try file.withBytes { try body(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + n)])) }
        }
        // Last record starting at or before `offset` (records are disjoint and sorted).
        var lo = 0, hi = records.count
        while lo < hi { let m = (lo + hi) / 2; if records[m].logical <= offset { lo = m + 1 } else { hi = m } }
        if lo > 0 {
            let r = records[lo - 1]
            if offset - r.logical <= r.size, UInt64(n) <= r.size - (offset - r.logical) {
                let start = r.fileOffset + Int(offset - r.logical)
                return try file.withBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) }
            }
        }
        // Spanning records: check that consecutive records cover every byte.
        let first = max(lo - 1, 0)
        var i = first
        var at = offset
        let end = offset.addingReportingOverflow(UInt64(n))
        while !end.overflow && at < end.partialValue {
            guard i < records.count, records[i].logical <= at, at - records[i].logical < records[i].size else {
                // Name the spot in the file: where the nearest record before the wanted bytes ends.
                let before = i < records.count && records[i].logical <= at ? records[i] : (i > 0 && records[i - 1].logical <= at ? records[i - 1] : nil)
                throw InputError(file: file.path, offset: before.map { $0.fileOffset + Int(clamping: $0.size) } ?? Self.flatHeaderSize,
                                 "flattened dump has no record for logical offset \(at) (truncated or incomplete stream; the nearest record before it ends here)")
            }
            at = records[i].logical + records[i].size
            i += 1
        }
        if end.overflow {
            throw InputError(file: file.path, offset: Self.flatHeaderSize, "needs \(n) bytes at logical offset \(offset), past the largest offset")
        }
        var buf = [UInt8](repeating: 0, count: n)
        var filled = 0
        at = offset
        i = first
        file.withBytes { b in
            buf.withUnsafeMutableBytes { d in
                while filled < n {
                    let r = records[i]
                    let take = Int(min(UInt64(n - filled), r.logical + r.size - at))
                    d.baseAddress!.advanced(by: filled).copyMemory(from: b.baseAddress!.advanced(by: r.fileOffset + Int(at - r.logical)), byteCount: take)
                    filled += take
                    at += UInt64(take)
                    i += 1
                }
            }
        }
        return try buf.withUnsafeBytes(body)
    }
}

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
        recs.sort { $0.logical < $1.logical }
        records = recs
        count = recs.map { $0.logical + $0.size }.max() ?? 0
        diagnostics = problems
    }

    /// Calls `body` with `count` logical bytes at `offset`. Contiguous pieces
    /// are handed over without copying; a range that spans flattened records
    /// is gathered into a temporary buffer. Throws if any byte is missing.
    func withBytes<R>(offset: UInt64, count n: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard isFlattened else {
            guard offset <= UInt64(file.count), UInt64(n) <= UInt64(file.count) - offset else {
                throw InputError(file: file.path, offset: Int(clamping: offset), "needs \(n) bytes here but the file has \(file.count) bytes (truncated dump)")
            }
            return try file.withBytes { try body(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + n)])) }
        }
        // Last record starting at or before `offset`.
        var lo = 0, hi = records.count
        while lo < hi { let m = (lo + hi) / 2; if records[m].logical <= offset { lo = m + 1 } else { hi = m } }
        if lo > 0 {
            let r = records[lo - 1]
            if offset - r.logical + UInt64(n) <= r.size {
                let start = r.fileOffset + Int(offset - r.logical)
                return try file.withBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) }
            }
        }
        var buf = [UInt8](repeating: 0, count: n)
        var filled = 0
        var i = max(lo - 1, 0)
        var at = offset
        while filled < n {
            guard i < records.count, records[i].logical <= at, at < records[i].logical + records[i].size else {
                if i < records.count, records[i].logical <= at { i += 1; continue }
                // Name the spot in the file: where the nearest record before the wanted bytes ends.
                let before = records[..<min(i, records.count)].last { $0.logical <= at }
                throw InputError(file: file.path, offset: before.map { $0.fileOffset + Int(clamping: $0.size) } ?? Self.flatHeaderSize,
                                 "flattened dump has no record for logical offset \(at) (truncated or incomplete stream; the nearest record before it ends here)")
            }
            let r = records[i]
            let take = Int(min(UInt64(n - filled), r.logical + r.size - at))
            let src = r.fileOffset + Int(at - r.logical)
            file.withBytes { b in
                buf.withUnsafeMutableBytes { d in
                    d.baseAddress!.advanced(by: filled).copyMemory(from: b.baseAddress!.advanced(by: src), byteCount: take)
                }
            }
            filled += take
            at += UInt64(take)
            i += 1
        }
        return try buf.withUnsafeBytes(body)
    }
}

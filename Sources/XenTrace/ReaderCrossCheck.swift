import BinaryIO
#if canImport(Glibc)
import Glibc
#endif

/// Reads one trace every way ``TraceInput`` can — mapped in file order,
/// mapped in TSC order, streamed in small random chunks — and lists every
/// disagreement between them. The fuzzer (Fuzz/) runs it on random inputs;
/// the tests run it on the corpus of inputs the fuzzer found interesting.
public enum ReaderCrossCheck {
    /// A stream that hands out `bytes` in chunks of 1...`maxChunk` bytes.
    final class ChunkedStream: ByteStream {
        let name = "chunked"
        let bytes: UnsafeRawBufferPointer
        var pos = 0
        var rng: SynthRandom
        let maxChunk: Int
        init(_ bytes: UnsafeRawBufferPointer, seed: UInt64, maxChunk: Int) {
            self.bytes = bytes
            rng = SynthRandom(seed: seed)
            self.maxChunk = maxChunk
        }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = min(buffer.count, bytes.count - pos, 1 + rng.below(maxChunk))
            if n > 0 { buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + pos, byteCount: n) }
            pos += n
            return n
        }
    }

    struct Seen: Equatable {
        var offset: Int, cpu: UInt32, header: UInt32, tsc: UInt64, extra: ExtraWords
        init(_ r: TraceRecord) {
            offset = r.offset; cpu = r.cpu; header = r.header; tsc = r.tsc; extra = r.extra
        }
    }

    static func key(_ d: TraceDiagnostic) -> String { "\(d.kind)@\(d.offset)/\(d.cpu.map(String.init) ?? "-")" }

    /// The disagreements found (empty when all readers agree).
    public static func run(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 1) throws -> [String] {
        var problems: [String] = []
        // A file-backed mapping (dropping pages of an anonymous one would lose them).
        let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        var template = Array("\(dir)/xenscope-check-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw InputError(file: dir, "cannot create a temporary file") }
        defer { close(fd) }
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            guard n > 0 else { throw InputError(file: dir, "cannot write a temporary file") }
            off += n
        }
        let mapped = TraceInput(name: "check", mapping: try MappedFile(fd: fd, path: "check", size: bytes.count))

        var byFile: [Seen] = []
        let dFile = try mapped.forEachRecord(order: .file) { byFile.append(Seen($0)); return true }
        var byTSC: [Seen] = []
        let dTSC = try mapped.forEachRecord(order: .tsc) { byTSC.append(Seen($0)); return true }
        for (i, maxChunk) in [7, 64, 4099].enumerated() {
            var streamed: [Seen] = []
            let s = TraceInput(name: "check", stream: ChunkedStream(bytes, seed: seed &+ UInt64(i), maxChunk: maxChunk), size: bytes.count)
            let dStream = try s.forEachRecord(order: .file) { streamed.append(Seen($0)); return true }
            if streamed != byFile { problems.append("stream (chunks ≤ \(maxChunk)) gives \(streamed.count) records, mapped file order \(byFile.count) (or they differ)") }
            if dStream.map(key) != dFile.map(key) { problems.append("stream (chunks ≤ \(maxChunk)) diagnostics \(dStream.map(key)) ≠ \(dFile.map(key))") }
            // Without a known size only crashes count.
            let u = TraceInput(name: "check", stream: ChunkedStream(bytes, seed: seed &+ 7, maxChunk: maxChunk))
            _ = try u.forEachRecord(order: .file) { _ in true }
        }

        // TSC order on a stream copies it to a temporary file through a
        // window walk that can stop the copy (input that is not a trace):
        // it must copy, and so deliver, exactly what the mapped file gives.
        var spilled: [Seen] = []
        let sp = TraceInput(name: "check", stream: ChunkedStream(bytes, seed: seed &+ 3, maxChunk: 97), size: bytes.count)
        let dSpill = try sp.forEachRecord(order: .tsc) { spilled.append(Seen($0)); return true }
        if spilled != byTSC { problems.append("stream TSC order gives \(spilled.count) records, mapped TSC order \(byTSC.count) (or they differ)") }
        if dSpill.map(key) != dTSC.map(key) { problems.append("stream TSC order diagnostics \(dSpill.map(key)) ≠ \(dTSC.map(key))") }

        // Records before the first window (read as CPU 0) are only ever
        // events Xen can write: anything else there is garbage.
        let firstWindow = byFile.first { $0.header == ScanCore.cpuChangeHeader }?.offset ?? Int.max
        if let bad = byFile.first(where: { $0.offset < firstWindow && !EventID.isPossible($0.header & TraceRecord.eventMask) }) {
            problems.append("record at byte \(bad.offset) before the first window has impossible event 0x\(hex8(bad.header & TraceRecord.eventMask))")
        }

        // trace info's counting fast path (mapped) = the normal path (stream).
        let fast = try TraceInfo(mapped, order: .file)
        let slow = try TraceInfo(TraceInput(name: "check", stream: ChunkedStream(bytes, seed: seed, maxChunk: 512), size: bytes.count), order: .file)
        if fast.cpus != slow.cpus || fast.eventCounts != slow.eventCounts || fast.diagnostics.map(key) != slow.diagnostics.map(key) {
            problems.append("trace info fast path disagrees: \(fast.cpus) / \(slow.cpus)")
        }

        // TSC order holds the same records, each CPU's in file order.
        if byTSC.map(\.offset).sorted() != byFile.map(\.offset) {
            problems.append("TSC order delivers \(byTSC.count) records, file order \(byFile.count) (or other ones)")
        } else {
            var fileByOffset: [Int: Seen] = [:]
            for r in byFile { fileByOffset[r.offset] = r }
            if byTSC.contains(where: { fileByOffset[$0.offset] != $0 }) {
                problems.append("a record differs between file and TSC order")
            }
            var lastOffset: [UInt32: Int] = [:]
            for r in byTSC {
                if let l = lastOffset[r.cpu], l > r.offset { problems.append("TSC order breaks CPU \(r.cpu)'s file order at byte \(r.offset)"); break }
                lastOffset[r.cpu] = r.offset
            }
        }
        if !dFile.contains(where: { $0.kind == .tscBackwards }) {
            for (a, b) in zip(byTSC, byTSC.dropFirst()) where a.tsc > b.tsc || (a.tsc == b.tsc && a.offset > b.offset) {
                problems.append("TSC order not sorted at byte \(b.offset)")
                break
            }
        }
        // The same damage is reported either way (unless a kind hit the cap,
        // where which instances are listed depends on the reading order).
        let capped = Dictionary(grouping: dFile, by: \.kind).values.contains { $0.count > 100 }
        if !capped && dTSC.map(key).sorted() != dFile.map(key).sorted() {
            problems.append("diagnostics differ: file order \(dFile.map(key)), TSC order \(dTSC.map(key))")
        }
        return problems
    }
}

import CTraceBuffer
import TraceRing
import XenTrace

/// A fresh region under /dev/shm, unlinked at once (the mapping lives on).
func makeRegion(cpus: Int, pages: Int) throws -> SharedRegion {
    let r = try SharedRegion.create(path: "xenscope-test-\(UInt64.random(in: 0...UInt64.max))", cpus: cpus, pages: pages)
    r.unlinkFile()
    return r
}

/// A deterministic clock for the producer: returns *arg, then adds 1.
let countingClock: tb_clock_fn = { arg in
    let p = arg!.assumingMemoryBound(to: UInt64.self)
    let v = p.pointee
    p.pointee = v + 1
    return v
}

/// Owns the counter a `countingClock` reads.
final class FakeClock {
    let counter = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    init(start: UInt64) { counter.pointee = start }
    deinit { counter.deallocate() }
    var next: UInt64 { counter.pointee }
}

/// A fresh region of `cpus` rings of `pages` pages and a producer on it
/// whose clock counts up from `clock` (one tick a read), tracing enabled
/// unless `enable` is false. The clock lives until `body` returns.
func withProducer(cpus: Int, pages: Int = 1, clock start: UInt64, enable: Bool = true,
                  _ body: (SharedRegion, TraceProducer) throws -> Void) throws {
    let region = try makeRegion(cpus: cpus, pages: pages)
    let p = try region.makeProducer()
    let clock = FakeClock(start: start)
    p.setClock(countingClock, UnsafeMutableRawPointer(clock.counter))
    if enable { region.setEnabled(true) }
    try withExtendedLifetime(clock) { try body(region, p) }
}

extension RingWindow {
    /// The window's bytes in order (both chunks).
    var bytes: [UInt8] { Array(first) + Array(second) }
}

/// Little-endian bytes of 32-bit words.
func le(_ words: [UInt32]) -> [UInt8] {
    words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
}

/// Bytes as xentrace would write the window: a CPU-change record, then the data.
func fileBytes(_ windows: [RingWindow]) -> [UInt8] {
    var out: [UInt8] = []
    for w in windows {
        out += le([0x2001_f003, w.cpu, UInt32(w.count)])
        out += w.bytes
    }
    return out
}

/// Reads bytes back with XenTrace's scanner; returns records and diagnostics.
func scan(_ bytes: [UInt8]) -> ([TraceRecord], [TraceDiagnostic]) {
    bytes.withUnsafeBytes { buf in
        var s = RecordScanner(buf)
        var out: [TraceRecord] = []
        while let r = s.next() { out.append(r) }
        return (out, s.diagnostics)
    }
}

import CTraceBuffer
import Testing
import TraceRing
#if canImport(Glibc)
import Glibc
#endif

/// A consumer attaches to memory another process controls: damaged control
/// pages, t_info and ring offsets must give errors, never a crash or a read
/// outside the mapping.
@Suite struct RegionValidationTests {
    /// Deterministic xorshift, so a failure can be replayed.
    struct Rng { var s: UInt64; mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s } }

    @Test func damagedRegionsAreRefusedOrStayInBounds() throws {
        let name = "/dev/shm/xenscope-validate-\(getpid())"
        unlink(name)
        let pristine = try SharedRegion.create(path: name, cpus: 3, pages: 2)
        defer { unlink(name) }
        let size = pristine.size
        let original = [UInt8](UnsafeRawBufferPointer(start: pristine.tinfoBytes.baseAddress! - 4096, count: 3 * 4096))
        let fd = open(name, O_RDWR)
        defer { close(fd) }
        var rng = Rng(s: 0x9e37_79b9_7f4a_7c15)
        var refused = 0, accepted = 0
        for _ in 0..<400 {
            // Restore the first three pages, then damage 1–4 spots in them.
            _ = original.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            for _ in 0...(rng.next() % 4) {
                let at = Int(rng.next() % 40) < 30 ? Int(rng.next() % 64) : 4096 + Int(rng.next() % 64)
                var v = UInt8(truncatingIfNeeded: rng.next())
                _ = pwrite(fd, &v, 1, off_t(at))
            }
            // Bogus ring offsets too, sometimes.
            if rng.next() % 3 == 0 {
                var bad = UInt32(truncatingIfNeeded: rng.next())
                _ = pwrite(fd, &bad, 4, off_t(3 * 4096 + Int(rng.next() % 2) * 4))
            }
            do {
                let r = try SharedRegion(attach: name)
                accepted += 1
                for ring in r.rings {
                    let w: RingWindow?
                    do { w = try ring.window() } catch { continue }
                    guard let w else { continue }
                    #expect(w.count <= Int(ring.dataSize))
                    _ = w.tally()
                }
            } catch {
                refused += 1
                #expect(!"\(error)".isEmpty)
            }
        }
        #expect(refused > 100 && accepted > 50, "refused \(refused), accepted \(accepted)")
        _ = size
    }
}

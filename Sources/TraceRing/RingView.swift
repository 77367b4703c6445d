import CTraceBuffer

/// The consumer's view of one CPU's ring: `struct t_buf {cons, prod}`
/// followed by `dataSize` bytes of records, mapped contiguously.
///
/// The consumer reads `prod` (acquire), copies the bytes between `cons` and
/// `prod` — in two chunks when they wrap past the ring end — and then
/// publishes `cons` (after a full barrier), exactly as xentrace does.
public struct RingView: @unchecked Sendable {
    /// Physical CPU (ring index) this ring belongs to.
    public let cpu: UInt32
    /// Bytes of record data (pages × 4096 − 8).
    public let dataSize: UInt32
    private let header: UnsafeMutablePointer<t_buf>

    /// `base` points at the ring's first page (the t_buf header).
    public init(cpu: UInt32, base: UnsafeMutableRawPointer, pages: Int) {
        self.cpu = cpu
        self.dataSize = UInt32(pages * 4096 - 8)
        self.header = base.assumingMemoryBound(to: t_buf.self)
    }

    private var data: UnsafeRawPointer { UnsafeRawPointer(header + 1) }

    /// The current producer offset (acquire) and consumer offset.
    public var positions: (cons: UInt32, prod: UInt32) {
        (trace_ring_load_cons(header), trace_ring_load_prod(header))
    }

    /// The unconsumed bytes, or nil when the ring is empty. Throws if the
    /// producer published offsets that cannot be (Xen disables tracing then).
    public func window() throws(TraceRingError) -> RingWindow? {
        let prod = trace_ring_load_prod(header)
        let cons = trace_ring_load_cons(header)
        let ds = dataSize
        guard prod % 4 == 0, prod < 2 * ds else {
            throw TraceRingError("CPU \(cpu): producer offset \(prod) is not a multiple of 4 below \(2 * ds)")
        }
        guard cons % 4 == 0, cons < 2 * ds else {
            throw TraceRingError("CPU \(cpu): consumer offset \(cons) is not a multiple of 4 below \(2 * ds)")
        }
        let used = prod >= cons ? prod - cons : prod + 2 * ds - cons
        guard used <= ds else {
            throw TraceRingError("CPU \(cpu): \(used) unconsumed bytes exceed the ring's \(ds) (cons \(cons), prod \(prod))")
        }
        if used == 0 { return nil }
        let start = Int(cons >= ds ? cons - ds : cons)
        let n = Int(used)
        let tail = Int(ds) - start
        if n <= tail {
            return RingWindow(cpu: cpu, cons: cons, prod: prod,
                              first: UnsafeRawBufferPointer(start: data + start, count: n),
                              second: UnsafeRawBufferPointer(start: data, count: 0))
        }
        return RingWindow(cpu: cpu, cons: cons, prod: prod,
                          first: UnsafeRawBufferPointer(start: data + start, count: tail),
                          second: UnsafeRawBufferPointer(start: data, count: n - tail))
    }

    /// Hands the window's bytes back to the producer (cons = window's prod).
    public func release(_ w: RingWindow) {
        trace_ring_store_cons(header, w.prod)
    }

    /// Drops everything unconsumed (xentrace's `--discard-buffers`).
    public func discard() {
        trace_ring_store_cons(header, trace_ring_load_prod(header))
    }
}

/// Unconsumed bytes of one ring at one moment: `first` then `second` (empty
/// unless the window wraps past the ring end). Valid until released.
public struct RingWindow: @unchecked Sendable {
    public let cpu: UInt32
    public let cons: UInt32
    public let prod: UInt32
    public let first: UnsafeRawBufferPointer
    public let second: UnsafeRawBufferPointer
    public init(cpu: UInt32, cons: UInt32, prod: UInt32, first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer) {
        self.cpu = cpu
        self.cons = cons
        self.prod = prod
        self.first = first
        self.second = second
    }

    /// Total bytes.
    public var count: Int { first.count + second.count }

    /// Counts the records in the window and the records that TRC_LOST_RECORDS
    /// records in it report lost. `damaged` is set if a record header claims
    /// more bytes than its chunk holds (a producer bug: records never straddle
    /// the ring end).
    public func tally() -> (records: Int, lost: UInt64, damaged: Bool) {
        var records = 0, lost: UInt64 = 0, damaged = false
        for chunk in [first, second] {
            var p = 0
            while p + 4 <= chunk.count {
                let h = chunk.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian
                let size = 4 + (h & 0x8000_0000 != 0 ? 8 : 0) + 4 * Int((h >> 28) & 7)
                if p + size > chunk.count { damaged = true; break }
                if h & 0x0fff_ffff == TB_TRC_LOST_RECORDS && (h >> 28) & 7 >= 1 {
                    let at = p + (h & 0x8000_0000 != 0 ? 12 : 4)
                    lost += UInt64(chunk.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
                }
                if h & 0x0fff_ffff != TB_TRC_WRAP_BUFFER { records += 1 }
                p += size
            }
            if p != chunk.count { damaged = true }
        }
        return (records, lost, damaged)
    }
}

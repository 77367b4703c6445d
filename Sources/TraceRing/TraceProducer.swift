import CTraceBuffer

/// What happened to one event (mirrors `enum tb_result`).
public enum TraceResult: Int32, Sendable {
    case written = 0, lost = 1, disabled = 2, filtered = 3, again = 4
    case invalid = -1, corrupt = -2
}

/// Swift face of the C producer: one `tb_ctx` attached to a region. Each
/// ring must be written by one thread at a time (the C library's rule).
public final class TraceProducer: @unchecked Sendable {
    let ctx: UnsafeMutablePointer<tb_ctx>
    private let region: SharedRegion

    init(region: SharedRegion) throws(TraceRingError) {
        self.region = region
        // 64-byte aligned so that each ring's state has its own cache line.
        ctx = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<tb_ctx>.size, alignment: 64)
            .bindMemory(to: tb_ctx.self, capacity: 1)
        let r = trace_attach(ctx, region.base, region.size)
        guard r == TB_OK.rawValue else {
            ctx.deallocate()
            throw TraceRingError("\(region.path): trace_attach failed (\(r))")
        }
    }

    deinit { ctx.deallocate() }

    /// The C context, for calling the C API directly (hot loops, variadic forms).
    public var context: UnsafeMutablePointer<tb_ctx> { ctx }

    /// Records `event` on ring `cpu` with a TSC (or without) and 0–7 words.
    @discardableResult
    public func event(cpu: UInt32, _ event: UInt32, _ words: [UInt32] = [], tsc: Bool = true) -> TraceResult {
        let r = words.withUnsafeBufferPointer { w in
            tsc ? trace_event_words(ctx, cpu, event, UInt32(w.count), w.baseAddress)
                : trace_event_words_notsc(ctx, cpu, event, UInt32(w.count), w.baseAddress)
        }
        return TraceResult(rawValue: r) ?? .invalid
    }

    /// Same without allocating: the words come from a buffer (0–7 of them).
    @discardableResult
    public func event(cpu: UInt32, _ event: UInt32, words: UnsafeBufferPointer<UInt32>, tsc: Bool = true) -> TraceResult {
        let r = tsc ? trace_event_words(ctx, cpu, event, UInt32(words.count), words.baseAddress)
                    : trace_event_words_notsc(ctx, cpu, event, UInt32(words.count), words.baseAddress)
        return TraceResult(rawValue: r) ?? .invalid
    }

    /// Writes a pending LOST_RECORDS record if it fits.
    @discardableResult
    public func flushLost(cpu: UInt32) -> TraceResult { TraceResult(rawValue: trace_flush_lost(ctx, cpu)) ?? .invalid }

    /// Flushes and marks the ring closed (`.again` if the ring is still full).
    @discardableResult
    public func close(cpu: UInt32) -> TraceResult { TraceResult(rawValue: trace_close(ctx, cpu)) ?? .invalid }

    /// Replaces rdtsc by a C function of `arg` (tests).
    public func setClock(_ fn: tb_clock_fn?, _ arg: UnsafeMutableRawPointer?) { trace_set_clock(ctx, fn, arg) }

    /// The domain/vCPU pair LOST_RECORDS records on ring `cpu` name.
    public func setCurrent(cpu: UInt32, domain: UInt16, vcpu: UInt16) { trace_set_current(ctx, cpu, domain, vcpu) }

    /// Records written and counted lost on ring `cpu` since attaching.
    public func counts(cpu: UInt32) -> (written: UInt64, lost: UInt64, pendingLost: UInt32) {
        withUnsafeMutablePointer(to: &ctx.pointee.cpu) { tuple in
            tuple.withMemoryRebound(to: tb_cpu.self, capacity: Int(TB_MAX_CPUS)) { c in
                (c[Int(cpu)].written, c[Int(cpu)].lost_total, c[Int(cpu)].lost)
            }
        }
    }
}

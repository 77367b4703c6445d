import XenTrace

/// Keeps the per-pCPU run intervals (up to a bound) for the HTML report's
/// timeline. Intervals are stored relative to the first TSC.
public final class TimelineCollector: TimelineSink {
    /// Most intervals kept; later ones are counted in `dropped`.
    public let limit: Int
    public private(set) var first: UInt64 = 0
    public private(set) var cpus: [Int] = []
    /// (cpu, start, end, dom, vcpu), start/end relative to `first`.
    public private(set) var runs: [(cpu: Int, start: UInt64, end: UInt64, dom: Int, vcpu: Int)] = []
    public private(set) var dropped = 0

    public init(limit: Int = 200_000) { self.limit = limit }

    public func begin(firstTSC: UInt64, cpus: [Int]) { first = firstTSC; self.cpus = cpus }
    public func record(_ r: TraceRecord) {}
    public func runstate(dom: Int, vcpu: Int, pcpu: Int, state: Int, start: UInt64, end: UInt64) {
        guard state == 0, pcpu >= 0 else { return }
        // Nothing can be drawn before the first TSC (a damaged trace may
        // claim it): clip there rather than wrap around.
        let s = max(start, first), e = max(end, s)
        if runs.count < limit { runs.append((pcpu, s - first, e - first, dom, vcpu)) } else { dropped += 1 }
    }
    public func vmexit(dom: Int, vcpu: Int, pcpu: Int, reason: Int, name: String, rip: UInt64, start: UInt64, end: UInt64) {}
    public func irq(cpu: Int, tsc: UInt64, vector: Int) {}
    public func lost(cpu: Int, tsc: UInt64, firstTSC: UInt64, count: Int) {}
    public func runnable(tsc: UInt64, count: Int) {}
    public func end() throws {}
}

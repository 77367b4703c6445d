import XenTrace

/// Receives the intervals and instants the analysis passes find, as they are
/// closed, so exporters can write timelines and tables without ever seeing
/// raw bytes. All times are TSC values.
public protocol TimelineSink: AnyObject {
    /// Called once, before anything else, with the trace's first TSC and pCPUs.
    func begin(firstTSC: UInt64, cpus: [Int])
    /// Every record the walk visits (CPU-change records excluded), in TSC order.
    func record(_ r: TraceRecord)
    /// A vCPU spent [start, end) in `state` (0 running … 4 lost; see Names.runstates);
    /// `pcpu` is where it ran last.
    func runstate(dom: Int, vcpu: Int, pcpu: Int, state: Int, start: UInt64, end: UInt64)
    /// An HVM exit of `reason` from `start` until the vCPU re-entered (or was woken).
    func vmexit(dom: Int, vcpu: Int, pcpu: Int, reason: Int, name: String, rip: UInt64, start: UInt64, end: UInt64)
    /// An interrupt vector seen on `cpu`.
    func irq(cpu: Int, tsc: UInt64, vector: Int)
    /// `count` records lost on `cpu` between `firstTSC` and `tsc`.
    func lost(cpu: Int, tsc: UInt64, firstTSC: UInt64, count: Int)
    /// The number of runnable guest vCPUs changed to `count` at `tsc`.
    func runnable(tsc: UInt64, count: Int)
    /// The walk is over.
    func end() throws
}

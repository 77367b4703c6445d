import TraceRing

/// Where rings come from: a shared-memory region or Xen in dom0. The
/// collector only sees rings and these controls (Xen's tbuf sysctls).
public protocol TraceBackend: AnyObject {
    /// For messages.
    var name: String { get }
    /// Rings to drain, ascending by CPU.
    var rings: [RingView] { get }
    /// Sets the masks and, if `enable`, enables tracing (else leaves it
    /// disabled for someone else to enable: xentrace `-X`).
    func start(eventMask: UInt32, cpus: Set<UInt32>?, enable: Bool) throws
    /// Sleeps until a ring is half full (futex / VIRQ_TBUF) or the timeout.
    func waitForData(timeoutNanoseconds: UInt64)
    /// Stops tracing: producers drop new events from now on.
    func stop() throws
    /// Whether ring `cpu`'s producer has said it is done (and flushed its
    /// lost count). Xen never says so: false.
    func isClosed(cpu: UInt32) -> Bool
    /// Whether the backend can report closed rings at all.
    var reportsClose: Bool { get }
}

/// The shared-memory backend: a region a producer process laid out with
/// `trace_init` (see docs/producer.md), attached by name or path.
public final class SharedMemoryBackend: TraceBackend {
    public let region: SharedRegion
    public var name: String { region.path }
    public var rings: [RingView] { region.rings }
    public var reportsClose: Bool { true }
    private var seen: UInt32

    /// Attaches to an existing region. If `pages` is given and differs from
    /// the region's ring size, fails the way Xen does once buffers exist.
    public init(name: String, pages: Int?) throws {
        region = try SharedRegion(attach: name)
        if let pages, pages != region.pagesPerCPU {
            throw CollectorError("\(region.path): rings already exist with \(region.pagesPerCPU) pages; --size \(pages) cannot resize them (as Xen answers EBUSY once buffers are allocated)")
        }
        seen = region.wakeSequence
    }

    public func start(eventMask: UInt32, cpus: Set<UInt32>?, enable: Bool) throws {
        region.setEventMask(eventMask)
        region.setCPUs(cpus)
        region.setEnabled(enable)
    }

    public func waitForData(timeoutNanoseconds: UInt64) {
        seen = region.wait(seen: seen, timeoutNanoseconds: timeoutNanoseconds)
    }

    public func stop() throws { region.setEnabled(false) }

    public func isClosed(cpu: UInt32) -> Bool { region.isClosed(cpu: cpu) }
}

/// A collector failure worth a clear sentence (disk full, bad region, …).
public struct CollectorError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

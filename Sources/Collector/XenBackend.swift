import TraceRing
import XenControl

/// The real-Xen backend (dom0): sizes and enables Xen's trace buffers, maps
/// t_info and every CPU's ring from the hypervisor, and waits on VIRQ_TBUF —
/// xentrace's job, through libraries loaded at run time.
public final class XenBackend: TraceBackend {
    public var name: String { "Xen trace buffers" }
    public private(set) var rings: [RingView] = []
    public var reportsClose: Bool { false }
    private let xen: XenTraceControl
    private var mappings: [(UnsafeMutableRawPointer, Int)] = []
    private let pages: Int?

    /// Opens the Xen interfaces; nothing is changed until ``start(eventMask:cpus:enable:)``.
    public init(pages: Int?) throws {
        xen = try XenTraceControl()
        self.pages = pages
    }

    deinit { for (p, n) in mappings { xen.unmap(p, pages: n) } }

    public func start(eventMask: UInt32, cpus: Set<UInt32>?, enable: Bool) throws {
        // true: we allocated them now; false: they existed (Xen said EBUSY).
        let allocatedNow = try pages.map { try xen.setSize(pages: $0) } ?? false
        try xen.setEventMask(eventMask)
        try xen.setCPUMask(cpus)
        // Like xentrace: enable (allocates buffers on first use), then map.
        let info = try xen.enable(pages: pages ?? 32)
        do {
            // -X: enabling is Xen's only way to hand out the buffers (xentrace
            // does the same); turn tracing off again at once, for someone
            // else to enable. The buffers stay allocated and mappable.
            if !enable { try xen.disable() }
            let tinfoPages = (info.size + 4095) / 4096
            let tinfo = try xen.map(frames: (0..<tinfoPages).map { info.mfn + UInt($0) }, writable: false)
            mappings.append((tinfo, tinfoPages))
            let layout = try TInfoLayout(UnsafeRawBufferPointer(start: tinfo, count: tinfoPages * 4096),
                                         cpuCount: try xen.maxCPUs(), name: "Xen t_info (frame 0x\(String(info.mfn, radix: 16)))")
            if let pages, !allocatedNow, pages != layout.pagesPerCPU {
                throw CollectorError("Xen's trace buffers already exist with \(layout.pagesPerCPU) pages per CPU (Xen answered EBUSY to --size \(pages)); they cannot be resized until reboot: drop --size or use --size \(layout.pagesPerCPU)")
            }
            for r in layout.rings {
                let p = try xen.map(frames: r.frames.map { UInt($0) }, writable: true)
                mappings.append((p, layout.pagesPerCPU))
                rings.append(RingView(cpu: r.cpu, base: p, pages: layout.pagesPerCPU))
            }
            try xen.bindTraceVirq()
        } catch {
            try? xen.disable()   // do not leave Xen tracing with nobody draining
            throw error
        }
    }

    public func waitForData(timeoutNanoseconds: UInt64) {
        xen.waitForVirq(timeoutMilliseconds: Int32(clamping: max(1, timeoutNanoseconds / 1_000_000)))
    }

    public func stop() throws { try xen.disable() }

    public func isClosed(cpu: UInt32) -> Bool { false }
}

import CTraceBuffer
#if canImport(Glibc)
import Glibc
#endif

/// A trace region in shared memory (a file under /dev/shm, or any file a
/// producer process maps): control page, Xen's t_info, per-CPU rings.
///
/// The producer side lays it out with `trace_init` (``create(path:cpus:pages:)``
/// or the C library directly); the consumer attaches with ``init(attach:)``,
/// which checks the layout before trusting any offset in it.
public final class SharedRegion: @unchecked Sendable {
    /// Where the region lives (a path; names without '/' are under /dev/shm).
    public let path: String
    /// Mapped bytes.
    public let size: Int
    /// Ring count and ring size as the region declares them.
    public let cpuCount: Int
    public let pagesPerCPU: Int
    /// The per-CPU rings, ascending by CPU.
    public let rings: [RingView]
    let base: UnsafeMutableRawPointer
    var control: UnsafeMutablePointer<tb_control> { base.assumingMemoryBound(to: tb_control.self) }

    /// The file for a region name: names without '/' live in /dev/shm.
    public static func resolve(_ name: String) -> String {
        name.contains("/") ? name : "/dev/shm/\(name)"
    }

    /// Creates a new region file (refuses an existing one) and lays it out.
    public static func create(path name: String, cpus: Int, pages: Int) throws(TraceRingError) -> SharedRegion {
        let path = resolve(name)
        let size = trace_region_size(UInt32(clamping: cpus), UInt32(clamping: pages))
        guard size > 0 else {
            throw TraceRingError("\(path): cannot lay out \(cpus) rings of \(pages) pages (1...\(TB_MAX_CPUS) rings, 1...65535 pages, t_info offsets below 64 Ki words)")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TraceRingError("\(path): cannot create: \(errnoString())") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else {
            let e = errnoString(); unlink(path)
            throw TraceRingError("\(path): cannot size to \(size) bytes: \(e)")
        }
        let p: UnsafeMutableRawPointer
        do { p = try mapShared(fd: fd, size: size, path: path) } catch { unlink(path); throw error }
        // A throwaway context lays the region out; producers attach their own.
        let ctx = UnsafeMutablePointer<tb_ctx>.allocate(capacity: 1)
        defer { ctx.deallocate() }
        guard trace_init(ctx, p, size, UInt32(cpus), UInt32(pages)) == TB_OK.rawValue else {
            munmap(p, size); unlink(path)
            throw TraceRingError("\(path): trace_init refused \(cpus) rings of \(pages) pages")
        }
        return try SharedRegion(path: path, base: p, size: size)
    }

    /// Maps an existing region read-write and validates its layout.
    public convenience init(attach name: String) throws(TraceRingError) {
        let path = SharedRegion.resolve(name)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw TraceRingError("\(path): cannot open trace region: \(errnoString())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TraceRingError("\(path): cannot stat: \(errnoString())") }
        let size = Int(st.st_size)
        guard size >= 4096 else { throw TraceRingError("\(path): \(size) bytes is too small for a trace region") }
        let p = try mapShared(fd: fd, size: size, path: path)
        do { try self.init(path: path, base: p, size: size) } catch { munmap(p, size); throw error }
    }

    private init(path: String, base: UnsafeMutableRawPointer, size: Int) throws(TraceRingError) {
        self.path = path
        self.base = base
        self.size = size
        let ctl = base.assumingMemoryBound(to: tb_control.self)
        let magic = withUnsafePointer(to: &ctl.pointee.magic) { UnsafeRawPointer($0).load(as: UInt32.self) }
        guard magic == TB_MAGIC else {
            throw TraceRingError("\(path): not a XenScope trace region (magic 0x\(String(magic, radix: 16)), expected 0x\(String(TB_MAGIC, radix: 16)); not initialised yet?)")
        }
        let c = ctl.pointee
        guard c.version == TB_VERSION else { throw TraceRingError("\(path): region version \(c.version), this build reads \(TB_VERSION)") }
        guard c.nr_cpus >= 1, c.nr_cpus <= TB_MAX_CPUS else { throw TraceRingError("\(path): region claims \(c.nr_cpus) rings") }
        let need = trace_region_size(c.nr_cpus, c.pages_per_cpu)
        guard need > 0, need <= size, c.tinfo_page == 1, c.tinfo_pages == trace_tinfo_pages(c.nr_cpus, c.pages_per_cpu) else {
            throw TraceRingError("\(path): inconsistent control page (\(c.nr_cpus) rings × \(c.pages_per_cpu) pages need \(need) bytes; file has \(size))")
        }
        let tinfo = UnsafeRawBufferPointer(start: base + 4096, count: Int(c.tinfo_pages) * 4096)
        let layout = try TInfoLayout(tinfo, cpuCount: Int(c.nr_cpus), name: path)
        guard layout.pagesPerCPU == Int(c.pages_per_cpu) else {
            throw TraceRingError("\(path): t_info says \(layout.pagesPerCPU) pages per ring, control page \(c.pages_per_cpu)")
        }
        let regionPages = size / 4096
        var rings: [RingView] = []
        for r in layout.rings {
            let first = Int(r.frames[0])
            guard first > Int(c.tinfo_pages), first + layout.pagesPerCPU <= regionPages,
                  r.frames.enumerated().allSatisfy({ Int($0.element) == first + $0.offset }) else {
                throw TraceRingError("\(path): CPU \(r.cpu)'s ring pages \(r.frames.prefix(4))… are not consecutive pages inside the region")
            }
            rings.append(RingView(cpu: r.cpu, base: base + first * 4096, pages: layout.pagesPerCPU))
        }
        self.rings = rings
        self.cpuCount = Int(c.nr_cpus)
        self.pagesPerCPU = layout.pagesPerCPU
    }

    deinit { munmap(base, size) }

    /// The t_info pages (read-only view).
    public var tinfoBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + 4096, count: Int(control.pointee.tinfo_pages) * 4096)
    }

    /// Removes the region's file (the mapping stays valid until released).
    public func unlinkFile() { unlink(path) }

    // MARK: control (the shared-memory analogue of Xen's tbuf sysctls)

    /// Starts or stops recording in every producer.
    public func setEnabled(_ on: Bool) { trace_set_enabled(control, on ? 1 : 0) }
    public var isEnabled: Bool { trace_is_enabled(control) != 0 }
    /// Xen's event mask (class/subclass bits, see docs/trace-format.md §4).
    public func setEventMask(_ mask: UInt32) { trace_set_evt_mask(control, mask) }
    /// Records only on the given CPUs (nil: all).
    public func setCPUs(_ cpus: Set<UInt32>?) {
        var bytes = [UInt8](repeating: 0, count: Int(TB_MAX_CPUS) / 8)
        for c in 0..<UInt32(cpuCount) where cpus?.contains(c) ?? true { bytes[Int(c / 8)] |= UInt8(1 << (c % 8)) }
        trace_set_cpu_mask(control, bytes, UInt32(bytes.count))
    }
    /// Whether the producer of `cpu`'s ring called `trace_close`.
    public func isClosed(cpu: UInt32) -> Bool { trace_ring_closed(control, cpu) != 0 }
    /// The wake-up sequence number to pass to ``wait(seen:timeoutNanoseconds:)``.
    public var wakeSequence: UInt32 { trace_wake_seq(control) }
    /// Sleeps until a ring crosses half full or closes, or the timeout passes.
    @discardableResult
    public func wait(seen: UInt32, timeoutNanoseconds: UInt64) -> UInt32 {
        trace_wait(control, seen, timeoutNanoseconds)
    }

    /// A producer handle in this process (tests, benchmarks, Swift producers).
    public func makeProducer() throws(TraceRingError) -> TraceProducer {
        try TraceProducer(region: self)
    }
}

func errnoString() -> String { String(cString: strerror(errno)) }

func mapShared(fd: Int32, size: Int, path: String) throws(TraceRingError) -> UnsafeMutableRawPointer {
    let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    guard let p, p != MAP_FAILED else { throw TraceRingError("\(path): cannot map \(size) bytes: \(errnoString())") }
    return p
}

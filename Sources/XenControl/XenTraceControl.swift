#if canImport(Glibc)
import Glibc
#endif

/// Why talking to Xen failed, worded for the person at the dom0 shell.
public struct XenControlError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Xen's trace-buffer controls and mappings, through libxenctrl,
/// libxenforeignmemory and libxenevtchn loaded with `dlopen` at run time, so
/// XenScope builds and runs without Xen's libraries (only this type needs them).
///
/// What it does mirrors xentrace: `XEN_SYSCTL_tbuf_op` via `xc_tbuf_*`
/// (size, masks, enable/disable, get_info through `xc_tbuf_enable`), maps
/// t_info and each CPU's ring with `xenforeignmemory_map(DOMID_XEN)`, and
/// binds VIRQ_TBUF (4) with libxenevtchn.
public final class XenTraceControl: @unchecked Sendable {
    /// DOMID_XEN: the pseudo-domain owning hypervisor pages.
    public static let domidXen: UInt32 = 0x7ff2
    /// VIRQ_TBUF: "trace buffer has records available".
    public static let virqTbuf: UInt32 = 4

    private typealias XcOpen = @convention(c) (OpaquePointer?, OpaquePointer?, UInt32) -> OpaquePointer?
    private typealias XcClose = @convention(c) (OpaquePointer?) -> Int32
    private typealias XcInt = @convention(c) (OpaquePointer?) -> Int32
    private typealias XcSetULong = @convention(c) (OpaquePointer?, UInt) -> Int32
    private typealias XcEnable = @convention(c) (OpaquePointer?, UInt, UnsafeMutablePointer<UInt>?, UnsafeMutablePointer<UInt>?) -> Int32
    private typealias XcSetU32 = @convention(c) (OpaquePointer?, UInt32) -> Int32
    private typealias XcSetMap = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt8>?) -> Int32
    private typealias FmOpen = @convention(c) (OpaquePointer?, UInt32) -> OpaquePointer?
    private typealias FmMap = @convention(c) (OpaquePointer?, UInt32, Int32, Int, UnsafePointer<UInt>?, UnsafeMutablePointer<Int32>?) -> UnsafeMutableRawPointer?
    private typealias FmUnmap = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int) -> Int32
    private typealias EvOpen = @convention(c) (OpaquePointer?, UInt32) -> OpaquePointer?
    private typealias EvBindVirq = @convention(c) (OpaquePointer?, UInt32) -> Int32
    private typealias EvPort = @convention(c) (OpaquePointer?, UInt32) -> Int32

    private let xch: OpaquePointer
    private let fmem: OpaquePointer
    private let xce: OpaquePointer
    private var port: Int32 = -1
    private let libs: [UnsafeMutableRawPointer]

    private let xcClose: XcClose
    private let xcMaxCPUs: XcInt
    private let xcCpumapSize: XcInt
    private let xcSetSize: XcSetULong
    private let xcEnable: XcEnable
    private let xcDisable: XcInt
    private let xcSetEvtMask: XcSetU32
    private let xcSetCPUMask: XcSetMap
    private let fmMap: FmMap
    private let fmUnmap: FmUnmap
    private let fmClose: XcClose
    private let evBindVirq: EvBindVirq
    private let evUnbind: EvPort
    private let evFD: XcInt
    private let evPending: XcInt
    private let evUnmask: EvPort
    private let evClose: XcClose

    /// Loads the libraries and opens the three handles. The error says which
    /// step failed: not on Xen, not dom0/privileged, or libraries missing.
    public init() throws(XenControlError) {
        try XenTraceControl.checkPlatform()
        let ctrl = try XenTraceControl.load(["libxenctrl.so", "libxenctrl.so.4.17", "libxenctrl.so.4.16", "libxenctrl.so.4.18", "libxenctrl.so.4.19", "libxenctrl.so.4.20"], package: "libxenmisc / libxen-dev")
        let fm = try XenTraceControl.load(["libxenforeignmemory.so", "libxenforeignmemory.so.1"], package: "libxenforeignmemory1")
        let ev = try XenTraceControl.load(["libxenevtchn.so", "libxenevtchn.so.1"], package: "libxenevtchn1")
        libs = [ctrl, fm, ev]
        func sym<T>(_ lib: UnsafeMutableRawPointer, _ name: String, _: T.Type) throws(XenControlError) -> T {
            guard let p = dlsym(lib, name) else {
                throw XenControlError("Xen library lacks \(name) (\(String(cString: dlerror())))")
            }
            return unsafeBitCast(p, to: T.self)
        }
        let xcOpen = try sym(ctrl, "xc_interface_open", XcOpen.self)
        xcClose = try sym(ctrl, "xc_interface_close", XcClose.self)
        xcMaxCPUs = try sym(ctrl, "xc_get_max_cpus", XcInt.self)
        xcCpumapSize = try sym(ctrl, "xc_get_cpumap_size", XcInt.self)
        xcSetSize = try sym(ctrl, "xc_tbuf_set_size", XcSetULong.self)
        xcEnable = try sym(ctrl, "xc_tbuf_enable", XcEnable.self)
        xcDisable = try sym(ctrl, "xc_tbuf_disable", XcInt.self)
        xcSetEvtMask = try sym(ctrl, "xc_tbuf_set_evt_mask", XcSetU32.self)
        xcSetCPUMask = try sym(ctrl, "xc_tbuf_set_cpu_mask", XcSetMap.self)
        let fmOpen = try sym(fm, "xenforeignmemory_open", FmOpen.self)
        fmMap = try sym(fm, "xenforeignmemory_map", FmMap.self)
        fmUnmap = try sym(fm, "xenforeignmemory_unmap", FmUnmap.self)
        fmClose = try sym(fm, "xenforeignmemory_close", XcClose.self)
        let evOpen = try sym(ev, "xenevtchn_open", EvOpen.self)
        evBindVirq = try sym(ev, "xenevtchn_bind_virq", EvBindVirq.self)
        evUnbind = try sym(ev, "xenevtchn_unbind", EvPort.self)
        evFD = try sym(ev, "xenevtchn_fd", XcInt.self)
        evPending = try sym(ev, "xenevtchn_pending", XcInt.self)
        evUnmask = try sym(ev, "xenevtchn_unmask", EvPort.self)
        evClose = try sym(ev, "xenevtchn_close", XcClose.self)

        guard let x = xcOpen(nil, nil, 0) else {
            throw XenControlError("cannot open the Xen control interface (xc_interface_open: \(errnoString())); run as root in dom0")
        }
        guard let f = fmOpen(nil, 0) else {
            _ = xcClose(x)
            throw XenControlError("cannot open Xen foreign memory (xenforeignmemory_open: \(errnoString()))")
        }
        guard let e = evOpen(nil, 0) else {
            _ = xcClose(x); _ = fmClose(f)
            throw XenControlError("cannot open Xen event channels (xenevtchn_open: \(errnoString())); is the xen-evtchn driver loaded?")
        }
        xch = x; fmem = f; xce = e
    }

    deinit {
        if port >= 0 { _ = evUnbind(xce, UInt32(port)) }
        _ = evClose(xce)
        _ = fmClose(fmem)
        _ = xcClose(xch)
        for l in libs { dlclose(l) }
    }

    /// Tells "not on Xen" and "not dom0" apart before any library is loaded.
    static func checkPlatform() throws(XenControlError) {
        if access("/proc/xen/capabilities", F_OK) != 0 && access("/dev/xen/privcmd", F_OK) != 0 {
            throw XenControlError("not running on Xen: neither /proc/xen/capabilities nor /dev/xen/privcmd exists (boot Xen and run this in dom0; is xenfs mounted on /proc/xen?)")
        }
        if let caps = readSmallFile("/proc/xen/capabilities"), !caps.contains("control_d") {
            throw XenControlError("this is a Xen guest, not dom0 (/proc/xen/capabilities lacks control_d): trace buffers can only be collected from dom0")
        }
        if getuid() != 0 {
            throw XenControlError("collecting Xen trace buffers needs root in dom0 (privcmd access)")
        }
    }

    static func load(_ names: [String], package: String) throws(XenControlError) -> UnsafeMutableRawPointer {
        var last = ""
        for n in names {
            if let h = dlopen(n, RTLD_NOW | RTLD_LOCAL) { return h }
            last = String(cString: dlerror())
        }
        throw XenControlError("Xen library not found: tried \(names.joined(separator: ", ")) (\(last)); install Debian's Xen tools libraries (\(package)) in dom0")
    }

    /// Highest CPU id + 1 (how many mfn_offset entries to read).
    public func maxCPUs() throws(XenControlError) -> Int {
        let n = xcMaxCPUs(xch)
        guard n > 0 else { throw XenControlError("xc_get_max_cpus failed: \(errnoString())") }
        return Int(n)
    }

    /// Sets the per-CPU ring size in pages. Xen allows this once per boot:
    /// with buffers already allocated it answers EBUSY (returned here as
    /// `false`: the caller compares the existing size) or, for a size other
    /// than the boot-time `tbuf_size=`, EINVAL (thrown).
    @discardableResult
    public func setSize(pages: Int) throws(XenControlError) -> Bool {
        if xcSetSize(xch, UInt(pages)) == 0 { return true }
        let e = errno
        if e == EBUSY { return false }
        if e == EINVAL {
            throw XenControlError("Xen refused a ring size of \(pages) pages (EINVAL): trace buffers already have another size in this boot (tbuf_size= on Xen's command line, or an earlier xentrace -S); drop --size or reboot")
        }
        throw XenControlError("xc_tbuf_set_size(\(pages)) failed: \(String(cString: strerror(e)))")
    }

    /// Enables tracing (allocating buffers of `pages` pages if none exist)
    /// and returns t_info's frame number and size in bytes.
    public func enable(pages: Int) throws(XenControlError) -> (mfn: UInt, size: Int) {
        var mfn: UInt = 0, size: UInt = 0
        guard xcEnable(xch, UInt(pages), &mfn, &size) == 0 else {
            throw XenControlError("cannot enable Xen tracing (xc_tbuf_enable: \(errnoString()))")
        }
        guard size > 0 else { throw XenControlError("Xen reports no trace buffers (t_info size 0): tracing not enabled or an invalid buffer size") }
        return (mfn, Int(size))
    }

    /// Stops tracing in the hypervisor (xc_tbuf_disable); the rings keep what they hold.
    public func disable() throws(XenControlError) {
        guard xcDisable(xch) == 0 else { throw XenControlError("xc_tbuf_disable failed: \(errnoString())") }
    }

    /// Which event classes Xen records (xc_tbuf_set_evt_mask; 0x0fff_f000 = everything).
    public func setEventMask(_ mask: UInt32) throws(XenControlError) {
        guard xcSetEvtMask(xch, mask) == 0 else { throw XenControlError("xc_tbuf_set_evt_mask(0x\(String(mask, radix: 16))) failed: \(errnoString())") }
    }

    /// Traces only on `cpus` (nil: all).
    public func setCPUMask(_ cpus: Set<UInt32>?) throws(XenControlError) {
        let n = Int(xcCpumapSize(xch))
        guard n > 0 else { throw XenControlError("xc_get_cpumap_size failed: \(errnoString())") }
        var map = [UInt8](repeating: cpus == nil ? 0xff : 0, count: n)
        for c in cpus ?? [] where Int(c / 8) < n { map[Int(c / 8)] |= UInt8(1 << (c % 8)) }
        let r = map.withUnsafeMutableBufferPointer { xcSetCPUMask(xch, $0.baseAddress) }
        guard r == 0 else { throw XenControlError("xc_tbuf_set_cpu_mask failed: \(errnoString())") }
    }

    /// Maps hypervisor frames (DOMID_XEN) contiguously.
    public func map(frames: [UInt], writable: Bool) throws(XenControlError) -> UnsafeMutableRawPointer {
        var errs = [Int32](repeating: 0, count: frames.count)
        let p = frames.withUnsafeBufferPointer { f in
            errs.withUnsafeMutableBufferPointer { e in
                fmMap(fmem, XenTraceControl.domidXen, writable ? PROT_READ | PROT_WRITE : PROT_READ, f.count, f.baseAddress, e.baseAddress)
            }
        }
        guard let p else { throw XenControlError("cannot map \(frames.count) Xen page(s) from frame 0x\(String(frames.first ?? 0, radix: 16)): \(errnoString())") }
        if let bad = errs.firstIndex(where: { $0 != 0 }) {
            _ = fmUnmap(fmem, p, frames.count)
            throw XenControlError("cannot map Xen frame 0x\(String(frames[bad], radix: 16)): \(String(cString: strerror(-errs[bad] > 0 ? -errs[bad] : errs[bad])))")
        }
        return p
    }

    /// Releases pages from ``map(frames:writable:)``.
    public func unmap(_ p: UnsafeMutableRawPointer, pages: Int) { _ = fmUnmap(fmem, p, pages) }

    /// Binds VIRQ_TBUF so that ``waitForVirq(timeoutMilliseconds:)`` wakes when a ring is half full.
    public func bindTraceVirq() throws(XenControlError) {
        let p = evBindVirq(xce, XenTraceControl.virqTbuf)
        guard p >= 0 else { throw XenControlError("cannot bind VIRQ_TBUF: \(errnoString())") }
        port = p
    }

    /// Waits for VIRQ_TBUF or the timeout. Returns true if the virq fired.
    @discardableResult
    public func waitForVirq(timeoutMilliseconds: Int32) -> Bool {
        var pfd = pollfd(fd: evFD(xce), events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMilliseconds) > 0 else { return false }
        let p = evPending(xce)
        if p >= 0 { _ = evUnmask(xce, UInt32(p)) }
        return p >= 0
    }
}

func errnoString() -> String { String(cString: strerror(errno)) }

func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 256)
    let n = read(fd, &buf, buf.count)
    guard n >= 0 else { return nil }
    return String(decoding: buf[0..<n], as: UTF8.self)
}

#if canImport(Glibc)
import Glibc
#endif

/// A vCPU's extended (XSAVE) state: `XEN_DOMCTL_getvcpuextstate` (63) and
/// `setvcpuextstate` (62) through `xc_domctl`, whose buffer must be
/// hypercall-safe memory (libxenctrl's `xc__hypercall_buffer_alloc_pages`).
/// libxenctrl wraps only the get (`xc_vcpu_get_extstate`); the set is needed
/// after `xc_vcpu_setcontext`, which resets a PV vCPU's XSAVE header to
/// x87+SSE and so zeroes the guest's upper YMM halves.
///
/// The state is Xen's toolstack format: xcr0 (8 bytes), xcr0_accum (8), then
/// the standard-format (uncompacted) XSAVE area sized for xcr0_accum; just
/// the two words when the vCPU never enabled XSAVE.
extension XenDomainControl {
    private typealias HcAllocPages = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> UnsafeMutableRawPointer?
    private typealias HcFreePages = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void

    /// `XEN_DOMCTL_*vcpuextstate` command numbers (Xen 4.17 public domctl.h).
    public enum ExtendedStateCommand {
        public static let set: UInt32 = 62, get: UInt32 = 63
    }

    /// `struct xen_domctl` with `u.vcpuextstate`: vcpu at 16, xfeature_mask
    /// 24, size 32, buffer handle 40 (the union is 128 bytes from 16).
    private func extStateDomctl(_ cmd: UInt32, vcpu: Int, mask: UInt64, size: UInt64, buffer: UnsafeMutableRawPointer?) -> [UInt8] {
        var d = [UInt8](repeating: 0, count: 16 + 128)
        d.withUnsafeMutableBytes { b in
            b.storeBytes(of: cmd, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: UInt32(0x15), toByteOffset: 4, as: UInt32.self)
            b.storeBytes(of: UInt16(truncatingIfNeeded: domain), toByteOffset: 8, as: UInt16.self)
            b.storeBytes(of: UInt32(vcpu), toByteOffset: 16, as: UInt32.self)
            b.storeBytes(of: mask, toByteOffset: 24, as: UInt64.self)
            b.storeBytes(of: size, toByteOffset: 32, as: UInt64.self)
            b.storeBytes(of: UInt64(UInt(bitPattern: buffer)), toByteOffset: 40, as: UInt64.self)
        }
        return d
    }

    private func domctl(_ d: inout [UInt8], _ what: String) throws(XenControlError) {
        guard let xcDomctl else { throw XenControlError("libxenctrl lacks xc_domctl: cannot \(what)") }
        guard d.withUnsafeMutableBytes({ xcDomctl(xch, $0.baseAddress) }) == 0 else {
            throw XenControlError("cannot \(what) of domain \(domain): \(errnoString())")
        }
    }

    /// Runs `body` with `bytes` of hypercall-safe memory (whole pages, zeroed).
    private func withHypercallBuffer<R>(_ bytes: Int, _ body: (UnsafeMutableRawBufferPointer) throws(XenControlError) -> R) throws(XenControlError) -> R {
        guard let a = dlsym(libs[0], "xc__hypercall_buffer_alloc_pages"), let f = dlsym(libs[0], "xc__hypercall_buffer_free_pages") else {
            throw XenControlError("libxenctrl lacks xc__hypercall_buffer_alloc_pages")
        }
        let alloc = unsafeBitCast(a, to: HcAllocPages.self), free = unsafeBitCast(f, to: HcFreePages.self)
        // xc_hypercall_buffer_t: hbuf, param_shadow, dir, ubuf, sz (40 bytes).
        let handle = UnsafeMutableRawPointer.allocate(byteCount: 40, alignment: 8)
        handle.initializeMemory(as: UInt8.self, repeating: 0, count: 40)
        defer { handle.deallocate() }
        let pages = Int32((bytes + 4095) / 4096)
        guard let p = alloc(xch, handle, pages) else { throw XenControlError("cannot allocate a hypercall buffer: \(errnoString())") }
        defer { free(xch, handle, pages) }
        let buffer = UnsafeMutableRawBufferPointer(start: p, count: bytes)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        return try body(buffer)
    }

    /// The vCPU's extended state (xcr0, xcr0_accum, standard-format XSAVE area).
    public func extendedState(vcpu: Int) throws(XenControlError) -> [UInt8] {
        // A query (size 0) returns Xen's feature mask and the largest size.
        var q = extStateDomctl(ExtendedStateCommand.get, vcpu: vcpu, mask: 0, size: 0, buffer: nil)
        try domctl(&q, "size the extended state of vCPU \(vcpu)")
        let (mask, size) = q.withUnsafeBytes { ($0.loadUnaligned(fromByteOffset: 24, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self)) }
        guard size >= 16, size <= 1 << 20 else { throw XenControlError("implausible extended state size \(size) for vCPU \(vcpu) of domain \(domain)") }
        return try withHypercallBuffer(Int(size)) { (b) throws(XenControlError) -> [UInt8] in
            var d = extStateDomctl(ExtendedStateCommand.get, vcpu: vcpu, mask: mask, size: size, buffer: b.baseAddress)
            try domctl(&d, "read the extended state of vCPU \(vcpu)")
            let got = Int(d.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self) })
            return Array(b.prefix(min(max(got, 16), b.count)))
        }
    }

    /// Loads a vCPU's extended state, as ``extendedState(vcpu:)`` returned it
    /// (Xen wants exactly the size for its xcr0_accum, standard format).
    public func setExtendedState(vcpu: Int, _ state: [UInt8]) throws(XenControlError) {
        try withHypercallBuffer(state.count) { (b) throws(XenControlError) in
            b.copyBytes(from: state)
            var d = extStateDomctl(ExtendedStateCommand.set, vcpu: vcpu, mask: 0, size: UInt64(state.count), buffer: b.baseAddress)
            try domctl(&d, "load the extended state of vCPU \(vcpu)")
        }
    }
}

extension XenDomainControl.HVMRecord {
    /// `CPU_XSAVE` (`struct hvm_hw_cpu_xsave`, variable length): xfeature_mask
    /// at 0, xcr0 at 8, xcr0_accum at 16, the standard-format XSAVE area from 24.
    public static let cpuXSave: UInt16 = 16
    public static let xsaveAreaOffset = 24
}

import GDBRemote
import XenControl

/// A live Xen guest, debugged from dom0 (`xenscope gdbstub --domain ID`):
/// vCPUs as threads, registers from and to the vCPU contexts, memory through
/// the guest's page tables and foreign mappings, pause on attach and Ctrl-C,
/// unpause on continue and detach.
///
/// Breakpoint and single-step traps reach a dom0 debugger only when the
/// hypervisor was built with CONFIG_GDBSX (Debian's is not); the backend
/// reads the hypervisor's build configuration and says so at attach. Without
/// it, gdb would plant int3 through memory writes and the guest would take
/// the trap itself — so breakpoints are refused then, with that reason.
public final class XenGuestBackend: Backend {
    public let control: XenDomainControl
    public let capabilities: BackendCapabilities
    public let layout = X86RegisterLayout(features: [.sse, .system])
    /// What the hypervisor's configuration says about CONFIG_GDBSX.
    public let gdbsxStatus: String
    public let isHVM: Bool
    /// The hypervisor delivers guest debug traps to dom0.
    public let hasGDBSX: Bool
    private let vcpus: Int
    private var pausedByUs = false
    private var stepping: Int?
    /// Domain pauses taken by the hypervisor's debugger hook since the last resume.
    private var trapPauses = 0
    /// Planted int3s: guest-virtual address → the byte it replaced.
    private var planted: [UInt64: UInt8] = [:]
    /// Mapped page-table pages (frame → mapping) and vCPU CR3s while stopped.
    private var tableCache: [UInt64: UnsafeMutableRawPointer] = [:]
    private var cr3Cache: [Int: UInt64] = [:]
    private var frameScratch = [UInt](repeating: 0, count: XenGuestBackend.batchPages)
    private var errorScratch = [Int32](repeating: 0, count: XenGuestBackend.batchPages)
    private var interruptRequested = false
    private var lastStop = StopEvent(signal: 5, thread: 1)
    private let log: (String) -> Void

    /// Context offsets (x86-64 `vcpu_guest_context`, Xen 4.17 public ABI).
    enum Offset {
        static let flags = 512, userRegs = 520, ctrlreg = 4984, fsBase = 5144, gsBaseKernel = 5152, gsBaseUser = 5160
        static let vgcfI387Valid: UInt64 = 1, vgcfInKernel: UInt64 = 4, vgcfOnline: UInt64 = 32
        /// `cpu_user_regs` fields in gdb's order (rax rbx rcx rdx rsi rdi rbp rsp r8–r15 rip), offsets inside user_regs.
        static let gprs: [(X86Register, Int)] = [
            (.rax, 80), (.rbx, 40), (.rcx, 88), (.rdx, 96), (.rsi, 104), (.rdi, 112), (.rbp, 32), (.rsp, 152),
            (.r8, 72), (.r9, 64), (.r10, 56), (.r11, 48), (.r12, 24), (.r13, 16), (.r14, 8), (.r15, 0), (.rip, 128),
        ]
        /// Fields gdb shows as 4 bytes but Xen stores as 16/64-bit.
        static let small: [(X86Register, Int, Int)] = [
            (.eflags, 144, 8), (.cs, 136, 2), (.ss, 160, 2), (.ds, 176, 2), (.es, 168, 2), (.fs, 184, 2), (.gs, 192, 2),
        ]
    }

    public init(domain: UInt32, log: @escaping (String) -> Void = { _ in }) throws {
        self.log = log
        control = try XenDomainControl(domain: domain)
        let info = try control.info()
        isHVM = info.flags.contains(.hvm)
        vcpus = info.maxVCPUID + 1
        let config = XenDomainControl.hypervisorConfig()
        let gdbsx = config?.contains("CONFIG_GDBSX=y") ?? false
        if let config {
            gdbsxStatus = config.contains("CONFIG_GDBSX=y")
                ? "hypervisor has CONFIG_GDBSX: breakpoints and single-step traps reach the debugger"
                : "hypervisor built without CONFIG_GDBSX (needs DEBUG or EXPERT): pause, inspect, change and continue work; breakpoints and single-step do not"
        } else {
            gdbsxStatus = "cannot read the hypervisor's build configuration (libxenhypfs, /buildinfo/config): assuming no CONFIG_GDBSX, so no breakpoints or single-step"
        }
        // Z0 always reaches insertBreakpoint, which says whether gdb may
        // plant int3 itself (CONFIG_GDBSX) or why not.
        var caps: BackendCapabilities = [.writeMemory, .writeRegisters, .resume, .softwareBreakpoints]
        if isHVM { caps.insert(.physicalMemory) }
        if gdbsx {
            // HVM steps through the hypervisor's MTF/TF debug op; PV through
            // TF in the vCPU's saved rflags (Xen pauses the domain on the #DB).
            caps.insert(.step)
            // Only with CONFIG_GDBSX: without it Xen swallows a debugged
            // guest's int3 (its pause hook is empty), so the guest would spin.
            _ = control.setDebugging(true)
        }
        hasGDBSX = gdbsx
        capabilities = caps
        log(gdbsxStatus)
        try control.pause()   // stop on attach, as gdb expects
        pausedByUs = true
    }

    deinit { detach() }

    /// The next debugger finds the domain paused again.
    public func attach() {
        dropTranslations()
        if !pausedByUs, (try? control.pause()) != nil { pausedByUs = true }
    }

    public func detach() {
        for (address, var original) in planted {
            _ = try? withUnsafeBytes(of: &original) { (b) throws(BackendError) in try writeMemory(at: address, b, thread: 1, space: .virtual) }
        }
        planted.removeAll()
        dropTranslations()
        if pausedByUs { try? resume(step: nil, continueOthers: true) }
    }

    public func threads() -> [ThreadDescriptor] {
        (0..<vcpus).map { i in
            let online = (try? control.context(vcpu: i)).map { c in
                c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: Offset.flags, as: UInt64.self) } & Offset.vgcfOnline != 0
            } ?? false
            return ThreadDescriptor(id: i + 1, name: "vcpu\(i)",
                                    extraInfo: "dom\(control.domain) vcpu\(i) \(online ? "online" : "offline")\(isHVM ? " HVM" : " PV")")
        }
    }

    public func stopEvent() -> StopEvent { lastStop }

    public func registers(thread: Int) throws(BackendError) -> X86RegisterValues {
        guard thread >= 1, thread <= vcpus else { throw .noThread(thread) }
        let c: [UInt8]
        do { c = try control.context(vcpu: thread - 1) } catch { throw .failed(error.description) }
        return Self.registers(fromContext: c, isHVM: isHVM)
    }

    /// Decodes an x86-64 `vcpu_guest_context` (Xen 4.17 layout) into gdb's registers.
    public static func registers(fromContext c: [UInt8], isHVM: Bool) -> X86RegisterValues {
        precondition(c.count >= XenDomainControl.contextSize)
        return c.withUnsafeBytes { b in
            func u64(_ o: Int) -> UInt64 { b.loadUnaligned(fromByteOffset: o, as: UInt64.self) }
            var v = X86RegisterValues()
            for (r, o) in Offset.gprs { v[r] = u64(Offset.userRegs + o) }
            for (r, o, size) in Offset.small {
                let raw = u64(Offset.userRegs + o)
                v[r] = size == 2 ? raw & 0xffff : raw & 0xffff_ffff
            }
            let flags = u64(Offset.flags)
            let inKernel = flags & Offset.vgcfInKernel != 0 || isHVM
            v[.fsBase] = u64(Offset.fsBase)
            v[.gsBase] = inKernel ? u64(Offset.gsBaseKernel) : u64(Offset.gsBaseUser)
            v[.kernelGSBase] = inKernel ? u64(Offset.gsBaseUser) : u64(Offset.gsBaseKernel)
            v[.cr0] = u64(Offset.ctrlreg)
            v[.cr2] = u64(Offset.ctrlreg + 16)
            v[.cr3] = u64(Offset.ctrlreg + 24)
            v[.cr4] = u64(Offset.ctrlreg + 32)
            if flags & Offset.vgcfI387Valid != 0 { v.setFXSAVE(b[0..<512]) }
            return v
        }
    }

    public func writeRegister(thread: Int, _ register: X86Register, bytes: [UInt8]) throws(BackendError) {
        guard thread >= 1, thread <= vcpus else { throw .noThread(thread) }
        var value: UInt64 = 0
        for (i, b) in bytes.prefix(8).enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        let offset: Int
        if let g = Offset.gprs.first(where: { $0.0 == register }) { offset = Offset.userRegs + g.1 }
        else if let s = Offset.small.first(where: { $0.0 == register }) { offset = Offset.userRegs + s.1 }
        else if register == .fsBase { offset = Offset.fsBase }
        else { throw .failed("\(register.name) cannot be changed on a live Xen vCPU") }
        do {
            var c = try control.context(vcpu: thread - 1)
            c.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: UInt64.self) }
            try control.setContext(vcpu: thread - 1, c)
        } catch { throw .failed(error.description) }
    }

    /// Batches of up to ``batchPages`` pages: translate each (PV: our own
    /// walk over cached table mappings; HVM: libxenctrl's, which knows the
    /// paging mode), map the batch in one call, copy, unmap. Stops at the
    /// first page that is not mapped.
    public func readMemory(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer, thread: Int, space: AddressSpace) -> Int {
        var done = 0
        let vcpu = max(thread, 1) - 1
        while done < buffer.count {
            var n = 0, span = 0
            while n < Self.batchPages, done + span < buffer.count {
                let a = address &+ UInt64(done + span)
                guard let frame = space == .physical ? a >> 12 : translate(vcpu: vcpu, a) else { break }
                frameScratch[n] = UInt(frame)
                n += 1
                span += 4096 - Int(a & 0xfff)
            }
            guard n > 0 else { break }
            let copied = frameScratch.withUnsafeBufferPointer { frames in
                errorScratch.withUnsafeMutableBufferPointer { errors -> Int in
                    guard let pages = control.map(frames: UnsafeBufferPointer(rebasing: frames[0..<n]), errors: errors, writable: false) else { return 0 }
                    defer { control.unmap(pages, count: n) }
                    let first = Int((address &+ UInt64(done)) & 0xfff)
                    var ok = 0
                    while ok < n, errors[ok] == 0 { ok += 1 }
                    let take = min(buffer.count - done, ok * 4096 - first)
                    guard take > 0 else { return 0 }
                    UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + take])
                        .copyMemory(from: UnsafeRawBufferPointer(start: pages + first, count: take))
                    return take
                }
            }
            done += copied
            if copied < span && done < buffer.count { break }
        }
        return done
    }

    /// Pages per batched foreign mapping (256 KiB: a 64 KiB `m` packet and more).
    static let batchPages = 64

    /// The guest frame `address` maps to in `vcpu`'s page tables.
    private func translate(vcpu: Int, _ address: UInt64) -> UInt64? {
        isHVM ? control.translate(vcpu: vcpu, address) : pvTranslate(vcpu: vcpu, address)
    }

    /// A 64-bit PV guest's 4-level walk from its kernel CR3 (machine frames,
    /// as a PV guest's tables hold), 2 MiB and 1 GiB leaves included. Table
    /// pages stay mapped while the guest is stopped (dropped on resume and
    /// writes), so a long read costs one table mapping per 2 MiB, not four
    /// mappings per page as `xc_translate_foreign_address` does.
    private func pvTranslate(vcpu: Int, _ address: UInt64) -> UInt64? {
        let cr3: UInt64
        if let c = cr3Cache[vcpu] { cr3 = c } else {
            guard let c = try? control.context(vcpu: vcpu) else { return nil }
            cr3 = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: Offset.ctrlreg + 24, as: UInt64.self) }
            cr3Cache[vcpu] = cr3
        }
        var frame = cr3 >> 12
        for level in stride(from: 3, through: 0, by: -1) {
            guard let table = tablePage(frame) else { return nil }
            let index = Int((address >> (12 + 9 * UInt64(level))) & 511)
            let entry = table.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
            guard entry & 1 != 0 else { return nil }
            let base = (entry >> 12) & 0xff_ffff_ffff   // bits 12–51
            if level == 2 || level == 1, entry & 0x80 != 0 {   // 1 GiB / 2 MiB leaf
                let pages: UInt64 = level == 2 ? 1 << 18 : 1 << 9
                return (base & ~(pages - 1)) + ((address >> 12) & (pages - 1))
            }
            frame = base
        }
        return frame
    }

    private func tablePage(_ frame: UInt64) -> UnsafeMutableRawPointer? {
        if let p = tableCache[frame] { return p }
        if tableCache.count >= 512 { dropTranslations() }
        guard let p = control.map(frame: frame, writable: false) else { return nil }
        tableCache[frame] = p
        return p
    }

    /// Forgets cached translations: the guest may change its tables when it runs.
    private func dropTranslations() {
        for p in tableCache.values { control.unmap(p) }
        tableCache.removeAll(keepingCapacity: true)
        cr3Cache.removeAll(keepingCapacity: true)
    }

    public func writeMemory(at address: UInt64, _ bytes: UnsafeRawBufferPointer, thread: Int, space: AddressSpace) throws(BackendError) {
        defer { dropTranslations() }
        var done = 0
        while done < bytes.count {
            let a = address &+ UInt64(done)
            let inPage = Int(a & 0xfff)
            let take = min(bytes.count - done, 4096 - inPage)
            let frame = space == .physical ? a >> 12 : control.translate(vcpu: max(thread, 1) - 1, a)
            guard let frame, let page = control.map(frame: frame, writable: true) else {
                throw .failed("guest address 0x\(String(a, radix: 16)) is not mapped")
            }
            (page + inPage).copyMemory(from: bytes.baseAddress! + done, byteCount: take)
            control.unmap(page)
            done += take
        }
    }

    public func resume(step: Int?, continueOthers: Bool) throws(BackendError) {
        if let step {
            guard hasGDBSX else {
                throw .failed("single-step is not possible here: \(gdbsxStatus)")
            }
            guard step >= 1, step <= vcpus else { throw .noThread(step) }
            if isHVM {
                guard control.singleStep(vcpu: step - 1, true) else { throw .failed("the hypervisor refused single-step on vCPU \(step - 1)") }
            } else {
                try setTrapFlag(vcpu: step - 1, true)
            }
        }
        stepping = step
        interruptRequested = false
        dropTranslations()
        do {
            if pausedByUs {
                // Each debug trap paused the domain once more (two vCPUs
                // running into one breakpoint: twice). Release those extra
                // pauses while ours still holds the domain, then ours: an
                // "is it still paused?" loop after the last unpause would
                // also release a NEW trap's pause and let that vCPU run on
                // from the byte after the int3.
                while trapPauses > 0 { trapPauses -= 1; _ = try? control.unpause() }
                try control.unpause(); pausedByUs = false
            }
            trapPauses = 0
        } catch { throw .failed(error.description) }
    }

    /// PV single-step: TF in the saved rflags; Xen's #DB handler pauses the
    /// domain for the debugger (CONFIG_GDBSX) instead of reflecting the trap.
    private func setTrapFlag(vcpu: Int, _ on: Bool) throws(BackendError) {
        do {
            var c = try control.context(vcpu: vcpu)
            let at = Offset.userRegs + 144
            c.withUnsafeMutableBytes { b in
                let f = b.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                b.storeBytes(of: on ? f | 0x100 : f & ~0x100, toByteOffset: at, as: UInt64.self)
            }
            try control.setContext(vcpu: vcpu, c)
        } catch { throw .failed(error.description) }
    }

    public func interrupt() {
        interruptRequested = true
        if !pausedByUs, (try? control.pause()) != nil { pausedByUs = true }
    }

    /// Stopped when the domain is paused: by our Ctrl-C, or by the
    /// hypervisor on a debug trap (CONFIG_GDBSX): an int3 we planted (rip
    /// is one past it: moved back, reported as a software breakpoint) or
    /// the #DB after a single step.
    public func pollStop(timeoutMilliseconds: Int) -> StopEvent? {
        guard let info = try? control.info() else {
            lastStop = StopEvent(signal: 9, thread: 1)   // the domain went away
            return lastStop
        }
        if info.flags.contains(.shutdown) || info.flags.contains(.dying) {
            lastStop = StopEvent(signal: 9, thread: 1)
            return lastStop
        }
        guard info.flags.contains(.paused) else { return nil }
        // Pauses the hypervisor's debugger hook took (one per trapping
        // vCPU: each int3 we planted, the #DB of a step); counted below.
        var traps = 0
        var thread = stepping ?? 1
        var reason = StopEvent.Reason.none
        if let s = stepping {
            if isHVM { _ = control.singleStep(vcpu: s - 1, false) } else { try? setTrapFlag(vcpu: s - 1, false) }
            if !interruptRequested { traps += 1 }
        }
        if !planted.isEmpty {
            for v in 0..<vcpus {
                guard var c = try? control.context(vcpu: v) else { continue }
                let at = Offset.userRegs + 128
                let rip = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
                guard planted[rip &- 1] != nil else { continue }
                if v + 1 != stepping || interruptRequested { traps += 1 }
                c.withUnsafeMutableBytes { $0.storeBytes(of: rip &- 1, toByteOffset: at, as: UInt64.self) }
                if (try? control.setContext(vcpu: v, c)) != nil, reason == .none, stepping == nil || stepping == v + 1 {
                    thread = v + 1
                    reason = .softwareBreakpoint
                }
            }
        }
        // Paused only by traps: we own one of those pauses; the rest are
        // released first on resume.
        if pausedByUs { trapPauses = traps } else { pausedByUs = true; trapPauses = max(traps - 1, 0) }
        lastStop = StopEvent(signal: interruptRequested && reason == .none ? 2 : 5, thread: thread, reason: reason)
        stepping = nil
        interruptRequested = false
        return lastStop
    }

    /// Plants int3 through a foreign mapping (the page's original byte is
    /// kept); only with CONFIG_GDBSX, where the trap pauses the domain
    /// instead of reaching the guest.
    public func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        guard hasGDBSX else {
            throw .failed("breakpoints are not possible here: \(gdbsxStatus)")
        }
        guard kind == .software else { throw .unsupported }
        if planted[address] != nil { return }
        var original: UInt8 = 0
        let got = withUnsafeMutableBytes(of: &original) { readMemory(at: address, into: $0, thread: 1, space: .virtual) }
        guard got == 1 else { throw .failed("guest address 0x\(String(address, radix: 16)) is not mapped") }
        var int3: UInt8 = 0xcc
        try withUnsafeBytes(of: &int3) { (b) throws(BackendError) in try writeMemory(at: address, b, thread: 1, space: .virtual) }
        planted[address] = original
    }

    public func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        guard kind == .software else { throw .unsupported }
        guard var original = planted[address] else { return }
        try withUnsafeBytes(of: &original) { (b) throws(BackendError) in try writeMemory(at: address, b, thread: 1, space: .virtual) }
        planted[address] = nil
    }

    public var monitorHelp: [String] { ["xen                  domain state and whether breakpoints can work (CONFIG_GDBSX)"] }

    public func monitor(_ command: String, thread: Int) -> String? {
        guard command == "xen" else { return nil }
        let info = try? control.info()
        return "domain \(control.domain): \(isHVM ? "HVM/PVH" : "PV"), \(vcpus) vCPUs, flags 0x\(String(info?.flags.rawValue ?? 0, radix: 16))\n\(gdbsxStatus)\n"
    }
}

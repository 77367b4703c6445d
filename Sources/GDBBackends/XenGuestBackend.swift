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
    /// With `org.gnu.gdb.i386.avx` when a vCPU's XCR0 enables AVX at attach.
    public let layout: X86RegisterLayout
    /// What the hypervisor's configuration says about CONFIG_GDBSX.
    public let gdbsxStatus: String
    public let isHVM: Bool
    /// The hypervisor delivers guest debug traps to dom0.
    public let hasGDBSX: Bool
    let vcpus: Int
    var pausedByUs = false
    var stepping: Int?
    /// How the current step was armed on an HVM vCPU: the hypervisor's
    /// monitor trap flag (VMX) or TF in the guest's rflags (SVM has no MTF).
    private var steppedByTF = false
    /// vCPUs paused one by one (gdbsx pause-vCPU) while others run: a step
    /// or continue of one thread under gdb's scheduler-locking.
    var heldVCPUs: [Int] = []
    /// Domain pauses taken by the hypervisor's debugger hook since the last resume.
    var trapPauses = 0
    /// Hardware breakpoints and watchpoints gdb asked for (DR0–DR3, DR7),
    /// and what every vCPU has loaded (XenGuestBackend+DebugRegisters.swift).
    var debugSlots = DebugRegisterSlots()
    var loadedDebugSlots = DebugRegisterSlots()
    /// Planted int3s: guest-virtual address → the byte it replaced.
    var planted: [UInt64: UInt8] = [:]
    /// Mapped page-table pages (frame → mapping) and vCPU CR3s while stopped.
    private var tableCache: [UInt64: UnsafeMutableRawPointer] = [:]
    /// Page-table root and levels per vCPU while stopped (levels 0: not in
    /// long mode, translated by libxenctrl).
    private var rootCache: [Int: (root: UInt64, levels: Int)] = [:]
    private var frameScratch = [UInt](repeating: 0, count: XenGuestBackend.batchPages)
    private var errorScratch = [Int32](repeating: 0, count: XenGuestBackend.batchPages)
    var interruptRequested = false
    private var lastStop = StopEvent(signal: 5, thread: 1)
    /// The guest's own int3s handed back to it, by address (XenGuestBackend+GuestTraps.swift).
    var guestTrapsPassed: [UInt64: Int] = [:]
    /// Time spent handing them back.
    var guestTrapNanoseconds: UInt64 = 0
    /// vCPUs left on an int3 of the guest's own at a stop (vCPU → address).
    var pendingGuestTraps: [Int: UInt64] = [:]
    /// A debugger is attached (between attach or init and detach).
    private var attached = true
    let log: (String) -> Void

    /// Context offsets (x86-64 `vcpu_guest_context`, Xen 4.17 public ABI).
    enum Offset {
        static let flags = 512, userRegs = 520, ctrlreg = 4984, debugreg = 5048, fsBase = 5144, gsBaseKernel = 5152, gsBaseUser = 5160
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

    /// `hvm_hw_cpu` offsets (Xen 4.17 `public/arch-x86/hvm/save.h`, measured with the header).
    enum HVMOffset {
        static let gprs: [(X86Register, Int)] = [
            (.rax, 512), (.rbx, 520), (.rcx, 528), (.rdx, 536), (.rsi, 552), (.rdi, 560), (.rbp, 544), (.rsp, 568),
            (.r8, 576), (.r9, 584), (.r10, 592), (.r11, 600), (.r12, 608), (.r13, 616), (.r14, 624), (.r15, 632), (.rip, 640),
        ]
        static let rflags = 648, cr0 = 656, cr2 = 664, cr3 = 672, cr4 = 680
        static let selectors: [(X86Register, Int)] = [(.cs, 736), (.ds, 740), (.es, 744), (.fs, 748), (.gs, 752), (.ss, 756)]
        static let fsBase = 832, gsBase = 840, shadowGS = 944, efer = 992, flags = 1024
        static let dr0 = 688, dr6 = 720, dr7 = 728
        /// Registers gdb may change through the record.
        static let writable: [(X86Register, Int)] = gprs + [(.eflags, 648), (.fsBase, 832), (.gsBase, 840), (.kernelGSBase, 944)]
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
        // Debug registers (PV: the vCPU contexts; HVM: the save records):
        // with CONFIG_GDBSX the #DB they raise in a debugged guest's kernel
        // pauses the domain for us.
        if gdbsx { caps.formUnion([.hardwareBreakpoints, .watchpoints]) }
        if gdbsx {
            // HVM steps through the hypervisor's MTF/TF debug op; PV through
            // TF in the vCPU's saved rflags (Xen pauses the domain on the #DB).
            caps.insert(.step)
        }
        hasGDBSX = gdbsx
        capabilities = caps
        layout = X86RegisterLayout(features: Self.guestUsesAVX(control, isHVM: isHVM, vcpus: vcpus) ? [.sse, .avx, .system] : [.sse, .system])
        log(gdbsxStatus)
        try control.pause()   // stop on attach, as gdb expects
        pausedByUs = true
        // Debugging mode only once paused: an int3 of the guest's own taken
        // in between would pause it with its vCPU past the int3 and nobody
        // counting. Only with CONFIG_GDBSX: without it Xen swallows a
        // debugged guest's int3 (its pause hook is empty), so the guest
        // would spin.
        if gdbsx { _ = control.setDebugging(true) }
    }

    deinit { detach() }

    /// The next debugger finds the domain paused again.
    public func attach() {
        dropTranslations()
        if !pausedByUs, (try? control.pause()) != nil { pausedByUs = true }
        if hasGDBSX, !attached { _ = control.setDebugging(true) }
        attached = true
    }

    /// Leaves the guest as it was before the debugger came: our int3s and
    /// debug registers gone, debugging mode off (or the guest's next int3
    /// of its own would pause it with nobody there to resume it), every
    /// pause released. A guest still running (gdb went away mid-continue)
    /// is paused first, and traps it took meanwhile are settled like a
    /// Ctrl-C stop's: each trapped vCPU back on its int3, each pause counted.
    public func detach() {
        guard attached else { return }
        attached = false
        if !pausedByUs {
            interrupt()
            _ = pollStop(timeoutMilliseconds: 0)
        }
        _ = liftOurInt3s(true)
        planted.removeAll()
        debugSlots.removeAll()
        if !guestTrapsPassed.isEmpty {
            let n = guestTrapsPassed.values.reduce(0, +)
            log("handed \(n) of the guest's own int3 traps back to it, at \(guestTrapsPassed.count) addresses (\(guestTrapNanoseconds / UInt64(n) / 1000) µs each)")
            guestTrapsPassed.removeAll()
            guestTrapNanoseconds = 0
        }
        if pausedByUs { try? loadDebugRegisters() }
        if hasGDBSX { _ = control.setDebugging(false) }
        dropTranslations()
        if pausedByUs { release(); try? run(step: nil) }
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
        if isHVM, let cpu = control.hvmCPU(vcpu: thread - 1) { return withAVX(Self.registers(fromHVMCPU: cpu), vcpu: thread - 1) }
        let c: [UInt8]
        do { c = try control.context(vcpu: thread - 1) } catch { throw .failed(error.description) }
        return withAVX(Self.registers(fromContext: c, isHVM: isHVM), vcpu: thread - 1)
    }

    /// Decodes an HVM/PVH vCPU's `hvm_hw_cpu` save record into gdb's
    /// registers: what the hardware context holds (EFER, the shadow GS
    /// base, all segment selectors), which `vcpu_guest_context` lacks for HVM.
    public static func registers(fromHVMCPU c: [UInt8]) -> X86RegisterValues {
        precondition(c.count >= XenDomainControl.HVMRecord.cpuSize)
        return c.withUnsafeBytes { b in
            func u64(_ o: Int) -> UInt64 { b.loadUnaligned(fromByteOffset: o, as: UInt64.self) }
            var v = X86RegisterValues()
            for (r, o) in HVMOffset.gprs { v[r] = u64(o) }
            v[.eflags] = u64(HVMOffset.rflags) & 0xffff_ffff
            for (r, o) in HVMOffset.selectors { v[r] = UInt64(b.loadUnaligned(fromByteOffset: o, as: UInt32.self) & 0xffff) }
            v[.fsBase] = u64(HVMOffset.fsBase)
            v[.gsBase] = u64(HVMOffset.gsBase)
            v[.kernelGSBase] = u64(HVMOffset.shadowGS)
            v[.cr0] = u64(HVMOffset.cr0); v[.cr2] = u64(HVMOffset.cr2); v[.cr3] = u64(HVMOffset.cr3); v[.cr4] = u64(HVMOffset.cr4)
            v[.efer] = u64(HVMOffset.efer)
            if b.loadUnaligned(fromByteOffset: HVMOffset.flags, as: UInt32.self) & 1 != 0 { v.setFXSAVE(b[0..<512]) }
            return v
        }
    }

    /// Changes an HVM vCPU's save record and loads it back: the header and
    /// every vCPU's CPU record (a vCPU without one would be taken offline),
    /// nothing else, so devices and the extended (AVX) state are untouched.
    /// `xc_vcpu_setcontext` is no use here: for HVM it ignores control and
    /// segment state, and its FXSAVE copy resets the xsave header to x87+SSE.
    func updateHVMCPU(_ vcpu: Int?, record: UInt16 = XenDomainControl.HVMRecord.cpu,
                      _ change: (UnsafeMutableRawBufferPointer) -> Void) throws(BackendError) {
        let all: [UInt8]
        do { all = try control.hvmContext() } catch { throw .failed(error.description) }
        guard let blob = Self.hvmCPUBlob(all, vcpu: vcpu, record: record, change) else {
            throw .failed("the HVM context of domain \(control.domain) has no CPU record for vCPU \(vcpu.map(String.init) ?? "any")")
        }
        do { try control.setHVMContext(blob) } catch { throw .failed(error.description) }
    }

    /// From a whole HVM context: the header, every CPU record (the one of
    /// `vcpu` changed by `change`, or every one when nil) and an END
    /// record; nil when no record was changed. With `record` CPU_XSAVE,
    /// that vCPU's XSAVE record is added and changed instead.
    public static func hvmCPUBlob(_ all: [UInt8], vcpu: Int?, record: UInt16 = XenDomainControl.HVMRecord.cpu,
                                  _ change: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8]? {
        var out: [UInt8] = []
        var found = false
        var o = 0
        while o + 8 <= all.count {
            let (type, instance, length) = all.withUnsafeBytes { b in
                (b.loadUnaligned(fromByteOffset: o, as: UInt16.self), Int(b.loadUnaligned(fromByteOffset: o + 2, as: UInt16.self)),
                 Int(b.loadUnaligned(fromByteOffset: o + 4, as: UInt32.self)))
            }
            guard type != XenDomainControl.HVMRecord.end, o + 8 + length <= all.count else { break }
            let isTarget = type == record && (vcpu == nil || instance == vcpu)
            if type == XenDomainControl.HVMRecord.header || type == XenDomainControl.HVMRecord.cpu || isTarget {
                let start = out.count
                out.append(contentsOf: all[o..<o + 8 + length])
                let minimum = record == XenDomainControl.HVMRecord.cpu ? XenDomainControl.HVMRecord.cpuSize
                    : XenDomainControl.HVMRecord.xsaveAreaOffset + XSaveArea.extendedOffset
                if isTarget, length >= minimum {
                    out.withUnsafeMutableBytes { change(UnsafeMutableRawBufferPointer(rebasing: $0[start + 8..<start + 8 + length])) }
                    found = true
                }
            }
            o += 8 + length
        }
        guard found else { return nil }
        out.append(contentsOf: [UInt8](repeating: 0, count: 8))   // END
        return out
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
        if let i = register.ymmUpperIndex { try writeYMMUpper(vcpu: thread - 1, i, bytes); return }
        var value: UInt64 = 0
        for (i, b) in bytes.prefix(8).enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        if isHVM {
            guard let at = HVMOffset.writable.first(where: { $0.0 == register })?.1 else {
                throw .failed("\(register.name) cannot be changed on a live Xen vCPU")
            }
            if register == .eflags { value |= 0x2 }   // bit 1 always set; the record load checks nothing else of it
            try updateHVMCPU(thread - 1) { $0.storeBytes(of: value, toByteOffset: at, as: UInt64.self) }
            dropTranslations()
            return
        }
        let offset: Int
        if let g = Offset.gprs.first(where: { $0.0 == register }) { offset = Offset.userRegs + g.1 }
        else if let s = Offset.small.first(where: { $0.0 == register }) { offset = Offset.userRegs + s.1 }
        else if register == .fsBase { offset = Offset.fsBase }
        else { throw .failed("\(register.name) cannot be changed on a live Xen vCPU") }
        do {
            var c = try control.context(vcpu: thread - 1)
            c.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: UInt64.self) }
            try setPVContext(vcpu: thread - 1, c)
        } catch { throw .failed(error.description) }
    }

    /// Moves a vCPU's rip and/or sets or clears TF (PV: `vcpu_guest_context`; HVM: its save record).
    func adjustVCPU(_ vcpu: Int, rip: UInt64? = nil, trapFlag: Bool? = nil) throws(BackendError) {
        func apply(_ b: UnsafeMutableRawBufferPointer, ripAt: Int, flagsAt: Int) {
            if let rip { b.storeBytes(of: rip, toByteOffset: ripAt, as: UInt64.self) }
            if let trapFlag {
                let f = b.loadUnaligned(fromByteOffset: flagsAt, as: UInt64.self)
                b.storeBytes(of: trapFlag ? f | 0x100 : f & ~0x100, toByteOffset: flagsAt, as: UInt64.self)
            }
        }
        if isHVM {
            try updateHVMCPU(vcpu) { apply($0, ripAt: 640, flagsAt: HVMOffset.rflags) }
            return
        }
        do {
            var c = try control.context(vcpu: vcpu)
            c.withUnsafeMutableBytes { apply($0, ripAt: Offset.userRegs + 128, flagsAt: Offset.userRegs + 144) }
            try setPVContext(vcpu: vcpu, c)
        } catch { throw .failed(error.description) }
    }

    /// Batches of up to ``batchPages`` pages: translate each (our own walk
    /// of the vCPU's page tables over cached table mappings: machine frames
    /// for PV, guest frames for HVM/PVH), map the batch in one call, copy,
    /// unmap. Stops at the first page that is not mapped.
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
        let root: (root: UInt64, levels: Int)
        if let r = rootCache[vcpu] { root = r } else {
            guard let r = pagingRoot(vcpu: vcpu) else { return nil }
            rootCache[vcpu] = r
            root = r
        }
        if root.levels == 0 { return control.translate(vcpu: vcpu, address) }
        return walk(root: root.root, levels: root.levels, address)
    }

    /// Where `vcpu`'s page walk starts. PV: the kernel CR3 (machine frames).
    /// HVM/PVH: CR3 from the save record (guest frames, which the foreign
    /// mapping takes as they are), 4 levels, or 5 with CR4.LA57; outside
    /// long mode (levels 0) libxenctrl's walk, which knows 2- and 3-level paging.
    private func pagingRoot(vcpu: Int) -> (root: UInt64, levels: Int)? {
        if isHVM {
            guard let cpu = control.hvmCPU(vcpu: vcpu) else { return nil }
            return cpu.withUnsafeBytes { b in
                let cr0 = b.loadUnaligned(fromByteOffset: HVMOffset.cr0, as: UInt64.self)
                let cr3 = b.loadUnaligned(fromByteOffset: HVMOffset.cr3, as: UInt64.self)
                let cr4 = b.loadUnaligned(fromByteOffset: HVMOffset.cr4, as: UInt64.self)
                let efer = b.loadUnaligned(fromByteOffset: HVMOffset.efer, as: UInt64.self)
                let long = cr0 & (1 << 31) != 0 && efer & (1 << 10) != 0   // PG and LMA
                return (cr3 & 0x000f_ffff_ffff_f000, long ? (cr4 & (1 << 12) != 0 ? 5 : 4) : 0)
            }
        }
        guard let c = try? control.context(vcpu: vcpu) else { return nil }
        return (c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: Offset.ctrlreg + 24, as: UInt64.self) } & ~0xfff, 4)
    }

    /// A 4- or 5-level x86-64 walk from `root`, 2 MiB and 1 GiB leaves
    /// included. Table pages stay mapped while the guest is stopped
    /// (dropped on resume and writes), so a long read costs one table
    /// mapping per 2 MiB, not one per level per page as
    /// `xc_translate_foreign_address` does.
    private func walk(root: UInt64, levels: Int, _ address: UInt64) -> UInt64? {
        var frame = root >> 12
        for level in stride(from: levels - 1, through: 0, by: -1) {
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
        rootCache.removeAll(keepingCapacity: true)
    }

    public func writeMemory(at address: UInt64, _ bytes: UnsafeRawBufferPointer, thread: Int, space: AddressSpace) throws(BackendError) {
        defer { dropTranslations() }
        var done = 0
        while done < bytes.count {
            let a = address &+ UInt64(done)
            let inPage = Int(a & 0xfff)
            let take = min(bytes.count - done, 4096 - inPage)
            let frame = space == .physical ? a >> 12 : translate(vcpu: max(thread, 1) - 1, a)
            guard let frame, let page = control.map(frame: frame, writable: true) else {
                throw .failed("guest address 0x\(String(a, radix: 16)) is not mapped")
            }
            (page + inPage).copyMemory(from: bytes.baseAddress! + done, byteCount: take)
            control.unmap(page)
            done += take
        }
    }

    public func resume(step: Int?, continueOthers: Bool) throws(BackendError) {
        if let step { passPendingGuestTrap(vcpu: step - 1) }
        if pausedByUs { try loadDebugRegisters() }
        if let step {
            guard hasGDBSX else {
                throw .failed("single-step is not possible here: \(gdbsxStatus)")
            }
            guard step >= 1, step <= vcpus else { throw .noThread(step) }
            try hold(continueOthers ? [] : (1...vcpus).filter { $0 != step })
            steppedByTF = false
            // VMX: the monitor trap flag (the guest sees nothing). SVM has
            // none (Xen answers EOPNOTSUPP): TF in the guest's rflags, whose
            // #DB Xen intercepts for a debugged domain and pauses it.
            if !isHVM || !control.singleStep(vcpu: step - 1, true) {
                do { try adjustVCPU(step - 1, trapFlag: true) } catch { release(); throw error }
                steppedByTF = true
            }
        } else if !continueOthers {
            throw .failed("nothing to resume")
        }
        try run(step: step)
    }

    /// Runs `thread` alone: the other vCPUs are paused one by one (the
    /// gdbsx pause-vCPU operation, CONFIG_GDBSX) for as long as it runs.
    public func resume(only thread: Int) throws(BackendError) {
        guard thread >= 1, thread <= vcpus else { throw .noThread(thread) }
        if pausedByUs { try loadDebugRegisters() }
        try hold((1...vcpus).filter { $0 != thread })
        try run(step: nil)
    }

    /// Pauses these threads' vCPUs individually (the domain is still paused by us).
    func hold(_ threads: [Int]) throws(BackendError) {
        guard !threads.isEmpty else { return }
        guard hasGDBSX else {
            throw .failed("running one vCPU while the others stay stopped needs the hypervisor's per-vCPU pause: \(gdbsxStatus)")
        }
        for t in threads {
            guard control.pauseVCPU(t - 1, true) else {
                release()
                throw .failed("the hypervisor refused to pause vCPU \(t - 1) alone (XEN_DOMCTL_gdbsx_pausevcpu)")
            }
            heldVCPUs.append(t - 1)
        }
    }

    /// Lets the individually paused vCPUs go (only while the domain is paused).
    func release() {
        for v in heldVCPUs { _ = control.pauseVCPU(v, false) }
        heldVCPUs.removeAll()
    }

    func run(step: Int?) throws(BackendError) {
        // A vCPU that runs takes its pending int3 by itself; a held one still sits on it.
        pendingGuestTraps = pendingGuestTraps.filter { heldVCPUs.contains($0.key) }
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

    public func interrupt() {
        interruptRequested = true
        if !pausedByUs, (try? control.pause()) != nil { pausedByUs = true }
    }

    /// Stopped when the domain is paused: by our Ctrl-C, or by the
    /// hypervisor on a debug trap (CONFIG_GDBSX): an int3 we planted (rip
    /// is one past it: moved back, reported as a software breakpoint on
    /// the vCPU that hit it) or the #DB after a single step (reported on
    /// the stepped vCPU). A Ctrl-C that caught no trap is reported on no
    /// particular vCPU (thread 0): the session names the one gdb selected.
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
        // Which vCPUs trapped, from the hypervisor (nil: cannot ask; then
        // a vCPU one byte past a planted int3 is taken to have hit it).
        let events = hasGDBSX ? control.debuggerEvents() : []
        let int3Trapped = events.map { e in Set(e.filter { $0.vector == 3 }.map(\.vcpu)) }
        // int3s of the guest's own (kprobes, live patching): each vCPU is
        // moved back onto its int3, to take it again as the guest's.
        let guestTraps = rewindGuestTraps(events ?? [])
        traps += guestTraps.filter { $0.vcpu + 1 != stepping || interruptRequested }.count
        var thread = stepping ?? 0
        var reason = StopEvent.Reason.none
        if let s = stepping {
            if steppedByTF { try? adjustVCPU(s - 1, trapFlag: false) } else { _ = control.singleStep(vcpu: s - 1, false) }
            if !interruptRequested { traps += 1 }
        }
        if !planted.isEmpty {
            var hit: Int?
            // Only vCPUs that did trap: one that merely sits right after a
            // one-byte instruction we planted on (a kprobe resumes there)
            // must not be moved back to run it twice.
            for v in 0..<vcpus where !heldVCPUs.contains(v) && int3Trapped?.contains(v) != false {
                guard let rip = (try? registers(thread: v + 1))?[.rip], planted[rip &- 1] != nil else { continue }
                if v + 1 != stepping || interruptRequested { traps += 1 }
                if (try? adjustVCPU(v, rip: rip &- 1)) != nil, hit == nil || v + 1 == stepping { hit = v + 1 }
            }
            // A step that ran into a planted int3 reports the step; another
            // vCPU's breakpoint wins over a Ctrl-C.
            if let hit, stepping == nil || hit == stepping {
                thread = hit
                reason = .softwareBreakpoint
            } else if let hit, stepping != nil, interruptRequested {
                thread = hit
                reason = .softwareBreakpoint
            }
        }
        if !loadedDebugSlots.isEmpty {
            // Which slot fired, from each vCPU's DR6 (cleared here).
            let hits = debugRegisterHits()
            for (t, _) in hits where t != stepping || interruptRequested { traps += 1 }
            if stepping == nil || interruptRequested {
                // Like a planted int3: the first hit wins over a Ctrl-C.
                if reason == .none, let (t, r) = hits.first { thread = t; reason = r }
            } else if let (_, r) = hits.first(where: { $0.thread == stepping }), case .watch = r {
                reason = r   // the stepped instruction wrote the watched bytes: gdb checks the value
            }
        }
        if reason == .none, stepping == nil, !interruptRequested, !guestTraps.isEmpty, !pausedByUs,
           passToGuest(guestTraps, pauses: traps) {
            // Nothing gdb asked for happened: the guest runs on as before.
            do { try loadDebugRegisters(); try run(step: nil); return nil } catch {
                log("could not resume after handing the guest its own int3: \(error)")
            }
            traps = trapPauses   // paused by us (and those): reported below as a plain stop
        }
        for t in guestTraps { pendingGuestTraps[t.vcpu] = t.address }
        release()
        // Paused only by traps: we own one of those pauses; the rest are
        // released first on resume.
        if pausedByUs { trapPauses = traps } else { pausedByUs = true; trapPauses = max(traps - 1, 0) }
        let stop = StopEvent(signal: interruptRequested && reason == .none && stepping == nil ? 2 : 5, thread: thread, reason: reason)
        lastStop = StopEvent(signal: stop.signal, thread: max(thread, 1), reason: reason)
        stepping = nil
        steppedByTF = false
        interruptRequested = false
        return stop
    }

    /// Plants int3 through a foreign mapping (the page's original byte is
    /// kept); only with CONFIG_GDBSX, where the trap pauses the domain
    /// instead of reaching the guest.
    public func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        guard hasGDBSX else {
            throw .failed("breakpoints are not possible here: \(gdbsxStatus)")
        }
        // Z1–Z4: a debug-register slot, loaded into the vCPUs on resume.
        if kind != .software { try debugSlots.insert(kind, at: address, length: length); return }
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
        if kind != .software { debugSlots.remove(kind, at: address, length: length); return }
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

import GDBRemote
import XenControl

/// Hardware breakpoints and watchpoints on a live Xen guest: DR0–DR3 and
/// DR7 in every vCPU (PV: `vcpu_guest_context.debugreg[]`, which Xen checks
/// in `arch_set_info_guest`; HVM/PVH: the CPU save record), loaded only when
/// the guest is about to run and the set changed (gdb removes and re-inserts
/// every breakpoint around each stop, which then costs nothing). With
/// CONFIG_GDBSX the #DB a slot raises in a debugged guest's kernel pauses
/// the domain; DR6 then says which slot fired, and is cleared.
extension XenGuestBackend {
    /// `debugreg[6]`: DR6 in a PV `vcpu_guest_context`.
    static var pvDR6Offset: Int { Offset.debugreg + 6 * 8 }
    /// `debugreg[7]`: DR7 in a PV `vcpu_guest_context`.
    static var pvDR7Offset: Int { Offset.debugreg + 7 * 8 }

    /// Writes DR0–DR3 and DR7 of `slots` into a PV context (DR6 left alone).
    public static func storeDebugRegisters(_ slots: DebugRegisterSlots, intoContext c: UnsafeMutableRawBufferPointer) {
        for (i, a) in slots.addresses.enumerated() { c.storeBytes(of: a, toByteOffset: Offset.debugreg + 8 * i, as: UInt64.self) }
        c.storeBytes(of: slots.dr7, toByteOffset: pvDR7Offset, as: UInt64.self)
    }

    /// Writes DR0–DR3, DR7 and a clear DR6 into an HVM CPU save record.
    public static func storeDebugRegisters(_ slots: DebugRegisterSlots, intoHVMCPU b: UnsafeMutableRawBufferPointer) {
        for (i, a) in slots.addresses.enumerated() { b.storeBytes(of: a, toByteOffset: HVMOffset.dr0 + 8 * i, as: UInt64.self) }
        b.storeBytes(of: slots.dr7, toByteOffset: HVMOffset.dr7, as: UInt64.self)
        b.storeBytes(of: DebugRegisterSlots.dr6Clear, toByteOffset: HVMOffset.dr6, as: UInt64.self)
    }

    /// Loads ``debugSlots`` into every vCPU when they differ from what is
    /// loaded (only while the domain is paused). PV vCPUs that are down are
    /// skipped: writing a context would initialise them.
    func loadDebugRegisters() throws(BackendError) {
        guard debugSlots != loadedDebugSlots else { return }
        let slots = debugSlots
        if isHVM {
            try updateHVMCPU(nil) { Self.storeDebugRegisters(slots, intoHVMCPU: $0) }
        } else {
            for v in 0..<vcpus {
                do {
                    var c = try control.context(vcpu: v)
                    let online = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: Offset.flags, as: UInt64.self) } & Offset.vgcfOnline != 0
                    guard online else { continue }
                    c.withUnsafeMutableBytes { Self.storeDebugRegisters(slots, intoContext: $0) }
                    try setPVContext(vcpu: v, c)
                } catch {
                    throw .failed("cannot load the debug registers of vCPU \(v): \(error.description)")
                }
            }
        }
        loadedDebugSlots = slots
    }

    /// DR6 of a vCPU (PV: its context; HVM: its save record).
    func debugStatus(vcpu: Int) -> UInt64? {
        if isHVM {
            return control.hvmCPU(vcpu: vcpu)?.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: HVMOffset.dr6, as: UInt64.self) }
        }
        return (try? control.context(vcpu: vcpu))?.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: Self.pvDR6Offset, as: UInt64.self) }
    }

    /// Sets a vCPU's DR6 back to its clear value: the status bits are sticky,
    /// and the next stop must not see this one's.
    func clearDebugStatus(vcpu: Int) throws(BackendError) {
        if isHVM {
            try updateHVMCPU(vcpu) { $0.storeBytes(of: DebugRegisterSlots.dr6Clear, toByteOffset: HVMOffset.dr6, as: UInt64.self) }
            return
        }
        do {
            var c = try control.context(vcpu: vcpu)
            c.withUnsafeMutableBytes { $0.storeBytes(of: DebugRegisterSlots.dr6Clear, toByteOffset: Self.pvDR6Offset, as: UInt64.self) }
            try setPVContext(vcpu: vcpu, c)
        } catch { throw .failed(error.description) }
    }

    /// At a stop: every vCPU (not held) whose DR6 names a loaded slot, with
    /// the stop reason for it (`hwbreak`, or `watch`/`awatch` with the
    /// watched address); DR6 status is cleared on each vCPU that had any.
    /// HVM only: when DR6 names nothing, a vCPU whose rip is an execute
    /// slot's address counts as its hit (the save record's DR6 is untested
    /// here, see docs/gdbstub.md), except the stepped one.
    func debugRegisterHits() -> [(thread: Int, reason: StopEvent.Reason)] {
        var hits: [(thread: Int, reason: StopEvent.Reason)] = []
        for v in 0..<vcpus where !heldVCPUs.contains(v) {
            guard let dr6 = debugStatus(vcpu: v) else { continue }
            var slot = loadedDebugSlots.hit(dr6: dr6)
            if DebugRegisterSlots.hasStatus(dr6: dr6) { try? clearDebugStatus(vcpu: v) }
            if slot == nil, isHVM, v + 1 != stepping, let rip = (try? registers(thread: v + 1))?[.rip] {
                slot = loadedDebugSlots.slots.firstIndex { $0?.kind == .hardware && $0?.address == rip }
            }
            if let slot, let reason = loadedDebugSlots.reason(slot: slot) { hits.append((v + 1, reason)) }
        }
        return hits
    }
}

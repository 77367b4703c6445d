import Foundation
import GDBRemote
import XenControl

/// The guest's own int3s while a debugger is attached. With CONFIG_GDBSX,
/// Xen pauses a debugged domain on *every* int3 its kernel executes, not
/// only on ours: Linux uses int3 for kprobes and for live code patching
/// (jump labels, static calls: `text_poke_bp`). Resuming such a vCPU at
/// the byte after the int3 would run the middle of an instruction, so the
/// trap goes back to the guest instead, the way a KVM-based stub re-injects
/// a #BP it did not plant: the vCPU's rip moves back onto the int3, and it
/// executes it once more with the debugger hook off, which makes Xen
/// deliver the trap to the guest's own handler.
extension XenGuestBackend {
    /// A vCPU stopped by an int3 of the guest's own, moved back onto it.
    struct GuestTrap: Equatable {
        let vcpu: Int
        /// The int3's address (rip once moved back).
        let address: UInt64
    }

    /// The vCPUs in `events` that stopped on an int3 we did not plant, each
    /// moved back onto its int3 (`CC`, or `CD 03`). A vCPU whose last
    /// instruction is neither is left alone (and is reported as a plain
    /// SIGTRAP).
    func rewindGuestTraps(_ events: [XenDomainControl.DebuggerEvent]) -> [GuestTrap] {
        var found: [GuestTrap] = []
        for e in events where e.vector == 3 && e.vcpu >= 0 && e.vcpu < vcpus {
            guard let rip = (try? registers(thread: e.vcpu + 1))?[.rip], planted[rip &- 1] == nil else { continue }
            var last: (UInt8, UInt8) = (0, 0)   // the two bytes before rip
            let got = withUnsafeMutableBytes(of: &last) { readMemory(at: rip &- 2, into: $0, thread: e.vcpu + 1, space: .virtual) }
            let address: UInt64
            if got == 2, last.1 == 0xcc { address = rip &- 1 }
            else if got == 2, last == (0xcd, 0x03) { address = rip &- 2 }
            else { continue }
            do { try adjustVCPU(e.vcpu, rip: address) } catch {
                log("cannot move vCPU \(e.vcpu) back onto the guest's own int3 at 0x\(String(address, radix: 16)) (\(error)): it will run on after it")
                continue
            }
            found.append(GuestTrap(vcpu: e.vcpu, address: address))
        }
        return found
    }

    /// Lets each trapped vCPU take its int3 with the debugger hook off,
    /// alone: the other vCPUs stay paused one by one (gdbsx pause-vCPU),
    /// and our int3s and debug registers are lifted meanwhile, so nothing
    /// of ours can reach a guest that is not being watched. Once every
    /// vCPU has left its int3 (or 2 s passed), the domain is paused again,
    /// the hook, our int3s and debug registers are back, and the guest
    /// runs on as gdb asked. Called from a stop that has nothing else to
    /// report (or before a step), with the domain held by `pauses` pauses
    /// (the hypervisor's and, before a step, ours). Then the domain is
    /// paused by us alone; false (and still held by those pauses) when the
    /// hand-back could not start.
    func passToGuest(_ traps: [GuestTrap], pauses: Int) -> Bool {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { guestTrapNanoseconds += DispatchTime.now().uptimeNanoseconds - started }
        let stuck = Set(traps.map(\.vcpu))
        let others = (0..<vcpus).filter { !stuck.contains($0) && !heldVCPUs.contains($0) }
        let heldBefore = heldVCPUs
        var ok = (try? hold(others.map { $0 + 1 })) != nil
        let wanted = debugSlots
        if ok {
            debugSlots.removeAll()
            ok = (try? loadDebugRegisters()) != nil
        }
        if ok {
            ok = liftOurInt3s(true)
        }
        if ok { ok = control.setDebugging(false) }
        var left = stuck
        if ok {
            for _ in 0..<pauses { _ = try? control.unpause() }
            let deadline = Date().addingTimeInterval(2)
            while !left.isEmpty, Date() < deadline {
                for t in traps where left.contains(t.vcpu) {
                    if let rip = (try? registers(thread: t.vcpu + 1))?[.rip], rip != t.address { left.remove(t.vcpu) }
                }
                if !left.isEmpty { usleep(500) }
            }
            _ = try? control.pause()
            pausedByUs = true
            trapPauses = 0
        }
        _ = control.setDebugging(true)
        _ = liftOurInt3s(false)
        // hold() releases everything when it fails: restore exactly the set from before.
        for v in heldVCPUs where !heldBefore.contains(v) { _ = control.pauseVCPU(v, false) }
        for v in heldBefore where !heldVCPUs.contains(v) { _ = control.pauseVCPU(v, true) }
        heldVCPUs = heldBefore
        debugSlots = wanted
        guard ok else {
            log("could not hand the guest's own int3 back to it (vCPU \(traps[0].vcpu) at 0x\(String(traps[0].address, radix: 16)))")
            return false
        }
        for t in traps where guestTrapsPassed[t.address] == nil {
            log("handed the guest's own int3 at 0x\(String(t.address, radix: 16)) (vCPU \(t.vcpu)) back to it; further ones there are handed back quietly")
        }
        for t in traps { guestTrapsPassed[t.address, default: 0] += 1 }
        if !left.isEmpty { log("vCPU \(left.sorted()) had not left its int3 after 2 s; it takes it again when it runs") }
        return true
    }

    /// Before a step of a vCPU that a stop left on an int3 of the guest's
    /// own: it takes that trap in the guest first (else every `stepi` would
    /// trap on the same int3 again and never move), and the step starts
    /// wherever the guest's handler let it go on.
    func passPendingGuestTrap(vcpu: Int) {
        guard let at = pendingGuestTraps.removeValue(forKey: vcpu), hasGDBSX,
              (try? registers(thread: vcpu + 1))?[.rip] == at else { return }
        _ = passToGuest([GuestTrap(vcpu: vcpu, address: at)], pauses: trapPauses + (pausedByUs ? 1 : 0))
    }

    /// Writes back the original bytes of every int3 we planted (`lift`), or
    /// plants them again.
    func liftOurInt3s(_ lift: Bool) -> Bool {
        var ok = true
        for (address, original) in planted {
            var byte: UInt8 = lift ? original : 0xcc
            do {
                try withUnsafeBytes(of: &byte) { (b) throws(BackendError) in try writeMemory(at: address, b, thread: 1, space: .virtual) }
            } catch { ok = false }
        }
        return ok
    }
}

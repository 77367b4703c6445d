import GDBRemote
import XenControl

/// The AVX part of the live Xen backend: the upper YMM halves of each vCPU
/// from its XSAVE state — PV through `XEN_DOMCTL_getvcpuextstate`, HVM/PVH
/// through the `CPU_XSAVE` save record (both in the standard format, which
/// ``XSaveArea`` reads, compacted too) — writes back the same ways, and the
/// PV context write that keeps that state.
extension XenGuestBackend {
    /// Whether a vCPU's XCR0 enables the AVX state: decides, at attach,
    /// whether the target description has `org.gnu.gdb.i386.avx`.
    static func guestUsesAVX(_ control: XenDomainControl, isHVM: Bool, vcpus: Int) -> Bool {
        if isHVM {
            guard let all = try? control.hvmContext() else { return false }
            return (0..<vcpus).contains { v in
                hvmRecord(all, type: XenDomainControl.HVMRecord.cpuXSave, instance: v).map { word($0, at: 8) & XSaveArea.ymmBit != 0 } ?? false
            }
        }
        return (0..<vcpus).contains { v in
            (try? control.extendedState(vcpu: v)).map { word($0[...], at: 0) & XSaveArea.ymmBit != 0 } ?? false
        }
    }

    /// The little-endian word at `offset`: xcr0 at 0 and xcr0_accum at 8 in
    /// the PV state, xcr0 at 8 in the HVM record (after the feature mask).
    static func word(_ b: ArraySlice<UInt8>, at offset: Int) -> UInt64 {
        guard b.count >= offset + 8 else { return 0 }
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(b[b.startIndex + offset + i]) }
        return v
    }

    /// The body of the save record of `type` for `instance` in a whole HVM context.
    public static func hvmRecord(_ all: [UInt8], type: UInt16, instance: Int) -> ArraySlice<UInt8>? {
        var o = 0
        while o + 8 <= all.count {
            let t = UInt16(all[o]) | UInt16(all[o + 1]) << 8
            let i = Int(UInt16(all[o + 2]) | UInt16(all[o + 3]) << 8)
            let length = Int(UInt32(all[o + 4]) | UInt32(all[o + 5]) << 8 | UInt32(all[o + 6]) << 16 | UInt32(all[o + 7]) << 24)
            guard t != XenDomainControl.HVMRecord.end, o + 8 + length <= all.count else { return nil }
            if t == type, i == instance { return all[o + 8..<o + 8 + length] }
            o += 8 + length
        }
        return nil
    }

    /// A vCPU's XCR0 and XSAVE image; nil when it has none (XSAVE never
    /// enabled: no CPU_XSAVE record, or only the two PV header words).
    func xsaveState(vcpu: Int) throws(BackendError) -> (xcr0: UInt64, area: XSaveArea)? {
        do {
            if isHVM {
                let all = try control.hvmContext()
                guard let r = Self.hvmRecord(all, type: XenDomainControl.HVMRecord.cpuXSave, instance: vcpu) else { return nil }
                let area = Array(r.dropFirst(XenDomainControl.HVMRecord.xsaveAreaOffset))
                return (Self.word(r, at: 8), try XSaveArea(area, source: "vCPU \(vcpu)'s CPU_XSAVE record (area from byte 24)"))
            }
            let s = try control.extendedState(vcpu: vcpu)
            guard s.count > 16 else { return nil }
            return (Self.word(s[...], at: 0), try XSaveArea(Array(s[16...]), source: "vCPU \(vcpu)'s extended state (area from byte 16)"))
        } catch let e as XenControlError {
            throw .failed(e.description)
        } catch {
            throw .failed("\(error)")
        }
    }

    /// Adds ymm0h–ymm15h when the layout has them and the vCPU's XCR0
    /// enables AVX (else they stay unavailable).
    func withAVX(_ values: X86RegisterValues, vcpu: Int) -> X86RegisterValues {
        guard layout.number(of: .ymm0h) != nil, let s = try? xsaveState(vcpu: vcpu), s.xcr0 & XSaveArea.ymmBit != 0 else { return values }
        var v = values
        v.setYMMUpper(from: s.area)
        return v
    }

    /// Changes the upper half of ymm`index`: HVM through a CPU_XSAVE record
    /// loaded with every vCPU's CPU record, PV through `setvcpuextstate`.
    func writeYMMUpper(vcpu: Int, _ index: Int, _ bytes: [UInt8]) throws(BackendError) {
        guard bytes.count == 16 else { throw .failed("ymm\(index)h is 16 bytes") }
        guard let s = try xsaveState(vcpu: vcpu), s.xcr0 & XSaveArea.ymmBit != 0 else {
            throw .failed("vCPU \(vcpu) has no AVX state (its XCR0 lacks bit 2)")
        }
        var area = s.area
        do { try area.setYMMUpper(index, bytes) } catch { throw .failed(error.description) }
        if isHVM {
            let new = area.bytes
            try updateHVMCPU(vcpu, record: XenDomainControl.HVMRecord.cpuXSave) { b in
                let o = XenDomainControl.HVMRecord.xsaveAreaOffset
                guard b.count >= o + new.count else { return }
                UnsafeMutableRawBufferPointer(rebasing: b[o..<o + new.count]).copyBytes(from: new)
            }
            return
        }
        do {
            let state = try control.extendedState(vcpu: vcpu)
            try control.setExtendedState(vcpu: vcpu, Array(state.prefix(16)) + area.bytes)
        } catch { throw .failed(error.description) }
    }

    /// PV context write (`xc_vcpu_setcontext`) that keeps the XSAVE state:
    /// Xen's copy of the context's FXSAVE area sets the XSAVE header to
    /// x87+SSE only, which would zero the guest's upper YMM halves (and
    /// every other extended component), so the state read before is loaded
    /// again after.
    func setPVContext(vcpu: Int, _ context: [UInt8]) throws(XenControlError) {
        let saved = try? control.extendedState(vcpu: vcpu)
        try control.setContext(vcpu: vcpu, context)
        guard let saved, saved.count > 16, Self.word(saved[...], at: 8) != 0 else { return }   // xcr0_accum 0: nothing kept
        try control.setExtendedState(vcpu: vcpu, saved)
    }
}

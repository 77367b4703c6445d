import GDBBackends
import GDBRemote
import Testing
import XenControl

/// The live backend's AVX pieces that run anywhere: finding a vCPU's
/// CPU_XSAVE record (`hvm_hw_cpu_xsave`: xfeature_mask 0, xcr0 8,
/// xcr0_accum 16, the standard-format XSAVE area from 24; type code 16 in
/// Xen 4.17's save.h) and the context a ymm write loads.
@Suite struct XenGuestAVXTests {
    static func record(_ type: UInt16, _ instance: UInt16, _ body: [UInt8]) -> [UInt8] {
        var d = [UInt8]()
        withUnsafeBytes(of: type.littleEndian) { d += $0 }
        withUnsafeBytes(of: instance.littleEndian) { d += $0 }
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { d += $0 }
        return d + body
    }

    /// An `hvm_hw_cpu_xsave` body: xcr0 7, AVX in use, ymm*h patterned.
    static func xsaveBody(vcpu: UInt8) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 24 + 832)
        b[0] = 7; b[8] = 7; b[16] = 7          // xfeature_mask, xcr0, xcr0_accum
        b[24 + 512] = 7                         // XSTATE_BV: x87, SSE, AVX
        for i in 0..<256 { b[24 + 576 + i] = UInt8(truncatingIfNeeded: i) ^ vcpu }
        return b
    }

    @Test func xsaveRecordIsFoundAndDecoded() throws {
        let header = Self.record(1, 0, [UInt8](repeating: 0xab, count: 24))
        let cpu0 = Self.record(2, 0, [UInt8](repeating: 0, count: 1032)), cpu1 = Self.record(2, 1, [UInt8](repeating: 1, count: 1032))
        let x0 = Self.record(16, 0, Self.xsaveBody(vcpu: 0)), x1 = Self.record(16, 1, Self.xsaveBody(vcpu: 0x80))
        let all = header + cpu0 + cpu1 + Self.record(6, 0, [UInt8](repeating: 6, count: 40)) + x0 + x1 + Self.record(0, 0, [])
        let r = try #require(XenGuestBackend.hvmRecord(all, type: 16, instance: 1))
        #expect(Array(r) == Self.xsaveBody(vcpu: 0x80))
        let area = try XSaveArea(Array(r.dropFirst(XenDomainControl.HVMRecord.xsaveAreaOffset)), source: "t")
        #expect(Array(area.ymmUpper(1)) == (16..<32).map { UInt8($0) ^ 0x80 })
        #expect(XenGuestBackend.hvmRecord(all, type: 16, instance: 2) == nil)
        // Cut inside vCPU 1's record: not found, no trap.
        #expect(XenGuestBackend.hvmRecord(Array(all.prefix(all.count - 20)), type: 16, instance: 1) == nil)

        // A ymm write loads the header, every CPU record (unchanged) and
        // that vCPU's XSAVE record (changed) — not the other vCPU's, not devices.
        let blob = try #require(XenGuestBackend.hvmCPUBlob(all, vcpu: 1, record: 16) { b in
            b[24 + 576 + 16 * 5] = 0x55
        })
        var changed = x1
        changed[8 + 24 + 576 + 80] = 0x55
        #expect(blob == header + cpu0 + cpu1 + changed + [UInt8](repeating: 0, count: 8))
        // A vCPU without XSAVE state (guest never enabled it): nothing to change.
        #expect(XenGuestBackend.hvmCPUBlob(header + cpu0 + Self.record(0, 0, []), vcpu: 0, record: 16) { _ in } == nil)
        // A record too short for the XSAVE header is not changed.
        let short = header + cpu0 + Self.record(16, 0, [UInt8](repeating: 0, count: 100)) + Self.record(0, 0, [])
        #expect(XenGuestBackend.hvmCPUBlob(short, vcpu: 0, record: 16) { _ in } == nil)
    }
}

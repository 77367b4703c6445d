import Foundation
import GDBBackends
import GDBRemote
import Testing
import XenControl

/// The live Xen backend's parts that run anywhere: the vCPU context layout
/// (offsets measured from Debian's Xen 4.17 headers) and the attach errors.
/// Attaching to a real guest is tested in the Xen lab.
@Suite struct XenGuestBackendTests {
    @Test func vcpuContextDecodesIntoGdbRegisters() {
        var c = [UInt8](repeating: 0, count: XenDomainControl.contextSize)
        func put(_ v: UInt64, _ o: Int) { withUnsafeBytes(of: v.littleEndian) { c.replaceSubrange(o..<o + 8, with: $0) } }
        // cpu_user_regs at 520: r15 +0 … rdi +112, rip +128, cs +136, rflags +144, rsp +152, ss +160, es, ds, fs, gs.
        let names = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi"]
        for (i, _) in names.enumerated() { put(0x1000 + UInt64(i), 520 + 8 * i) }
        put(0xffff_ffff_8100_0000, 520 + 128)
        put(0x1_0000_e033, 520 + 136)          // cs 0xe033, saved_upcall_mask above 16 bits
        put(0x246, 520 + 144)
        put(0xffff_c900_0001_0000, 520 + 152)
        put(0xe02b, 520 + 160)
        put(5, 512)                             // flags: i387_valid | in_kernel
        put(0x8005_003b, 4984); put(0x1234, 5000); put(0x5_6000, 5008); put(0x3506f0, 5016)
        put(0x7f00_0000_1000, 5144); put(0xffff_8880_3fc0_0000, 5152); put(0x7f00_0000_2000, 5160)
        c[0] = 0x7f; c[1] = 0x03                // FCW in the FXSAVE area
        c[24] = 0x80; c[25] = 0x1f              // MXCSR
        let v = XenGuestBackend.registers(fromContext: c, isHVM: false)
        #expect(v[.r15] == 0x1000 && v[.rdi] == 0x100e && v[.rax] == 0x100a && v[.rbp] == 0x1004)
        #expect(v[.rip] == 0xffff_ffff_8100_0000)
        #expect(v[.cs] == 0xe033 && v[.ss] == 0xe02b && v[.eflags] == 0x246)
        #expect(v[.rsp] == 0xffff_c900_0001_0000)
        #expect(v[.cr0] == 0x8005_003b && v[.cr2] == 0x1234 && v[.cr3] == 0x5_6000 && v[.cr4] == 0x3506f0)
        #expect(v[.fsBase] == 0x7f00_0000_1000)
        #expect(v[.gsBase] == 0xffff_8880_3fc0_0000)       // in kernel: the kernel GS base is live
        #expect(v[.kernelGSBase] == 0x7f00_0000_2000)
        #expect(v[.fctrl] == 0x37f && v[.mxcsr] == 0x1f80)
        put(1, 512)                             // user mode now
        let u = XenGuestBackend.registers(fromContext: c, isHVM: false)
        #expect(u[.gsBase] == 0x7f00_0000_2000 && u[.kernelGSBase] == 0xffff_8880_3fc0_0000)
    }

    /// An HVM/PVH vCPU's `hvm_hw_cpu` record (offsets checked against
    /// Xen 4.17's save.h with offsetof: rip 640, rflags 648, cr3 672,
    /// cs_sel 736, fs_base 832, shadow_gs 944, msr_efer 992, flags 1024,
    /// 1032 bytes) decodes into gdb's registers, EFER and the shadow GS base included.
    @Test func hvmCPURecordDecodesIntoGdbRegisters() {
        var c = [UInt8](repeating: 0, count: 1032)
        func put(_ v: UInt64, _ o: Int) { withUnsafeBytes(of: v.littleEndian) { c.replaceSubrange(o..<o + 8, with: $0) } }
        func put32(_ v: UInt32, _ o: Int) { withUnsafeBytes(of: v.littleEndian) { c.replaceSubrange(o..<o + 4, with: $0) } }
        // rax rbx rcx rdx rbp rsi rdi rsp r8…r15 from 512.
        for i in 0..<16 { put(0x2000 + UInt64(i), 512 + 8 * i) }
        put(0xffff_ffff_8100_1234, 640); put(0x10246, 648)
        put(0x8005_0033, 656); put(0x7f12_3000, 664); put(0x1_2345_6000, 672); put(0x350ef0, 680)
        put32(0x10, 736); put32(0x18, 740); put32(0x18, 744); put32(0, 748); put32(0, 752); put32(0x18, 756)
        put(0x7f00_0000_3000, 832); put(0xffff_8880_0760_0000, 840); put(0x7f00_0000_4000, 944); put(0xd01, 992)
        put32(1, 1024)                          // XEN_X86_FPU_INITIALISED
        c[0] = 0x7f; c[1] = 0x03; c[24] = 0x80; c[25] = 0x1f
        let v = XenGuestBackend.registers(fromHVMCPU: c)
        #expect(v[.rax] == 0x2000 && v[.rbx] == 0x2001 && v[.rcx] == 0x2002 && v[.rdx] == 0x2003)
        #expect(v[.rbp] == 0x2004 && v[.rsi] == 0x2005 && v[.rdi] == 0x2006 && v[.rsp] == 0x2007)
        #expect(v[.r8] == 0x2008 && v[.r15] == 0x200f)
        #expect(v[.rip] == 0xffff_ffff_8100_1234 && v[.eflags] == 0x10246)
        #expect(v[.cr0] == 0x8005_0033 && v[.cr2] == 0x7f12_3000 && v[.cr3] == 0x1_2345_6000 && v[.cr4] == 0x350ef0)
        #expect(v[.cs] == 0x10 && v[.ds] == 0x18 && v[.es] == 0x18 && v[.ss] == 0x18 && v[.fs] == 0 && v[.gs] == 0)
        #expect(v[.fsBase] == 0x7f00_0000_3000 && v[.gsBase] == 0xffff_8880_0760_0000 && v[.kernelGSBase] == 0x7f00_0000_4000)
        #expect(v[.efer] == 0xd01)
        #expect(v[.fctrl] == 0x37f && v[.mxcsr] == 0x1f80)
    }

    /// A register write loads the header and every vCPU's CPU record (one
    /// changed) and an END record: nothing else of the context, and no vCPU
    /// left without its record (the hypervisor would take it offline).
    @Test func hvmRegisterWriteBlobKeepsEveryCPURecord() throws {
        func record(_ type: UInt16, _ instance: UInt16, _ body: [UInt8]) -> [UInt8] {
            var d = [UInt8]()
            withUnsafeBytes(of: type.littleEndian) { d += $0 }
            withUnsafeBytes(of: instance.littleEndian) { d += $0 }
            withUnsafeBytes(of: UInt32(body.count).littleEndian) { d += $0 }
            return d + body
        }
        let header = record(1, 0, [UInt8](repeating: 0xab, count: 24))
        let cpu0 = record(2, 0, [UInt8](repeating: 0, count: 1032)), cpu1 = record(2, 1, [UInt8](repeating: 1, count: 1032))
        let lapic = record(6, 0, [UInt8](repeating: 6, count: 40)), xsave = record(16, 1, [UInt8](repeating: 7, count: 600))
        let all = header + cpu0 + lapic + cpu1 + xsave + record(0, 0, [])
        let blob = try #require(XenGuestBackend.hvmCPUBlob(all, vcpu: 1) { $0.storeBytes(of: UInt64(0xdead_beef), toByteOffset: 640, as: UInt64.self) })
        var changed = cpu1
        withUnsafeBytes(of: UInt64(0xdead_beef).littleEndian) { changed.replaceSubrange(8 + 640..<8 + 648, with: $0) }
        #expect(blob == header + cpu0 + changed + [UInt8](repeating: 0, count: 8))
        #expect(XenGuestBackend.hvmCPUBlob(all, vcpu: 2) { _ in } == nil)
        // Every vCPU (debug registers for a hardware breakpoint): both CPU records change.
        let every = try #require(XenGuestBackend.hvmCPUBlob(all, vcpu: nil) { $0.storeBytes(of: UInt64(0x401), toByteOffset: 728, as: UInt64.self) })
        var c0 = cpu0, c1 = cpu1
        withUnsafeBytes(of: UInt64(0x401).littleEndian) { c0.replaceSubrange(8 + 728..<8 + 736, with: $0); c1.replaceSubrange(8 + 728..<8 + 736, with: $0) }
        #expect(every == header + c0 + c1 + [UInt8](repeating: 0, count: 8))
        // A context cut inside a record: what is whole is used, the vCPU missing → nil.
        #expect(XenGuestBackend.hvmCPUBlob(Array(all.prefix(header.count + cpu0.count + 100)), vcpu: 1) { _ in } == nil)
    }

    /// Outside Xen the error says so; in dom0 (the lab) a domain id that
    /// cannot exist is named.
    @Test func attachErrorsAreCrisp() {
        let onXen = FileManager.default.fileExists(atPath: "/proc/xen/capabilities") || FileManager.default.fileExists(atPath: "/dev/xen/privcmd")
        do {
            _ = try XenGuestBackend(domain: 0x7ff0)
            Issue.record("attached to domain 0x7ff0")
        } catch let e as XenControlError {
            if onXen {
                #expect(e.description.contains("no domain 32752") || e.description.contains("not dom0") || e.description.contains("needs root"), "\(e)")
            } else {
                #expect(e.description == "not running on Xen: neither /proc/xen/capabilities nor /dev/xen/privcmd exists; run xenscope gdbstub --domain in dom0 of a Xen host (is xenfs mounted on /proc/xen?)")
            }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

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

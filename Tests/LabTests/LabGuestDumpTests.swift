import Dump
import Foundation
import Testing

/// Scenario "dump-pv": `xl dump-core` of a paused PV guest (Debian's kernel,
/// 2 vCPUs, 128 MiB), whose registers xenctx printed just before.
@Suite struct LabGuestDumpTests {
    @Test func xcCoreRegistersEqualXenctx() throws {
        let lab = try LabResults.ci()
        let dir = lab.dom0 + "/dump-pv"
        let log = try lab.text("results/dump-pv/log.txt")
        #expect(log.contains("dump-core rc=0"), "dump-pv log: \(log.suffix(400))")
        let dump = try XenCoreDump(path: dir + "/pv.core")
        #expect(dump.diagnostics.isEmpty, "\(dump.diagnostics)")
        #expect(dump.isPV)
        #expect(dump.headerVCPUs == 2 && dump.cpus.count == 2)
        #expect(dump.vcpuOnline == [true, true])
        #expect(dump.xenVersion?.hasPrefix("4.17") == true, "\(dump.xenVersion ?? "no version")")
        // 128 MiB of guest memory, every page present.
        #expect(dump.headerPages == 128 << 8, "\(dump.headerPages) pages")
        for v in 0..<2 {
            let text = try lab.text("results/dump-pv/xenctx-vcpu\(v).txt")
            let x = registers(in: text[...], separator: ":")
            let c = dump.cpus[v]
            let ours: [String: UInt64] = [
                "rip": c.rip, "rsp": c.rsp, "rax": c.rax, "rbx": c.rbx, "rcx": c.rcx, "rdx": c.rdx,
                "rsi": c.rsi, "rdi": c.rdi, "rbp": c.rbp, "r8": c.r8, "r9": c.r9, "r10": c.r10,
                "r11": c.r11, "r12": c.r12, "r13": c.r13, "r14": c.r14, "r15": c.r15,
                "flags": c.rflags & 0xffff_ffff, "cs": c.cs, "ss": c.ss,
            ]
            for (name, value) in ours {
                #expect(x[name] == value, "vcpu \(v) \(name): dump \(String(value, radix: 16)) xenctx \(x[name].map { String($0, radix: 16) } ?? "missing")")
            }
            #expect(x["cr3"] != nil && c.cr3 != nil)
        }
    }

    /// The guest console that xenconsoled logged shows the guest booted the
    /// kernel dom0 runs and got both vCPUs.
    @Test func guestConsoleShowsBoot() throws {
        let lab = try LabResults.ci()
        let console = try lab.text("results/dump-pv/guest-console.log")
        let release = try #require(try lab.text("results/xl-info.txt").firstMatch(of: #/release\s+:\s+(\S+)/#)?.1)
        #expect(console.contains("XENSCOPE-DOMU: up \(release) vcpus=2"))
    }
}

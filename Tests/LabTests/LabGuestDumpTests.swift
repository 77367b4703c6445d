import Dump
import Foundation
import LabTestSupport
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
            expectRegistersEqualXenctx(dump.cpus[v], x, "vcpu \(v)")
            #expect(x["cr3"] != nil && dump.cpus[v].cr3 != nil)
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

import CrashAnalysis
import Foundation
import LabTestSupport
import Testing

/// Debian's xen-syms on the CI profile's whole-machine dump: the boot banner
/// in the console ring names the same build-id as the file, and the domain
/// list is refused (symbols only, no DWARF) rather than read at guessed offsets.
@Suite struct LabXenSymbolsTests {
    var xenSyms: String {
        let env = ProcessInfo.processInfo.environment
        return (env["XENSCOPE_CACHE"] ?? (env["HOME"] ?? "/root") + "/.cache/xenscope")
            + "/lab/root/usr/lib/debug/boot/xen-syms-4.17-amd64"
    }

    @Test func bannerBuildIDIsTheFilesAndSaidSo() throws {
        let lab = try LabResults.ci()
        let s = try CrashSession(dumpPath: lab.host + "/machine.kdump", elfPath: xenSyms)
        let fileID = try #require(s.symbols?.buildID)
        // Xen printed its build-id on the serial port at boot; the ring has the same line.
        let serial = try lab.text("serial.log")
        #expect(serial.contains("build-id: \(fileID)"))
        let banner = try #require(s.checkXenBanner(log: try s.consoleRing()))
        #expect(banner.verdict == .match)
        #expect(banner.message == "the console ring's boot banner names build-id \(fileID), the file's")
    }

    @Test func domainListWithoutDWARFIsRefusedPlainly() throws {
        let lab = try LabResults.ci()
        let s = try CrashSession(dumpPath: lab.host + "/machine.kdump", elfPath: xenSyms)
        #expect(s.address(of: "domain_list") != nil)   // the symbol is there; the layouts are not
        #expect(throws: XenDomainsError.noDWARF(image: xenSyms, why: "no .debug_info: only ELF symbols")) {
            try s.xenDomains()
        }
        let message = "\(XenDomainsError.noDWARF(image: xenSyms, why: "no .debug_info: only ELF symbols"))"
        #expect(message.contains("offsets are not guessed"))
    }
}

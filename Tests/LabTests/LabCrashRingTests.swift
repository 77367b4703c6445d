import CrashAnalysis
import Foundation
import LabTestSupport
import Testing

/// Scenario "crash", read by `xenscope crash`'s library: the hypervisor's
/// xen-syms (Debian's, symbols only, for `ci`; the self-built one with DWARF
/// for `selfbuilt`) locates Xen's console ring in QEMU's whole-machine dump.
@Suite struct LabCrashRingTests {
    /// The console ring ends with the panic text the serial port showed.
    @Test(arguments: LabCrashTests.dumps)
    func consoleRingEndsWithSerialPanic(_ profile: String, _ name: String) throws {
        let lab = try LabResults.profile(profile)
        let session = try CrashSession(dumpPath: lab.host + "/" + name, elfPath: lab.xenSyms)
        let ring = try session.consoleRing()
        let serial = try lab.text("serial.log").replacingOccurrences(of: "\r\n", with: "\n")
        // The panic block as the serial port printed it: from the stack dump's
        // "Xen call trace:" of the panicking CPU to "Manual reset required".
        let serialLines = serial.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let ringLines = ring.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let tail = Array(serialLines.suffix(8))
        #expect(tail.contains { $0.contains("FATAL TRAP: vec 2, NMI[0000]") }, "serial tail: \(tail)")
        #expect(Array(ringLines.suffix(tail.count)) == tail, "ring ends with \(ringLines.suffix(tail.count)), serial with \(tail)")
        let panic = session.panicInfo(log: ring)
        #expect(panic.message?.contains("FATAL TRAP: vec 2, NMI[0000]") == true, "\(panic)")
        let cpu = try #require(serial.firstMatch(of: #/Panic on CPU (\d+):/#).flatMap { Int($0.1) })
        #expect(panic.cpu == cpu)
    }
}

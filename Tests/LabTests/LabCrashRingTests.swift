import CrashAnalysis
import Foundation
import Testing

/// Scenario "crash", read by `xenscope crash`'s library: Debian's xen-syms
/// (symbols only, from the -dbg package the lab unpacked) locates Xen's
/// console ring in QEMU's whole-machine dump.
@Suite struct LabCrashRingTests {
    var xenSyms: String {
        let env = ProcessInfo.processInfo.environment
        return (env["XENSCOPE_CACHE"] ?? (env["HOME"] ?? "/root") + "/.cache/xenscope")
            + "/lab/root/usr/lib/debug/boot/xen-syms-4.17-amd64"
    }

    /// The console ring ends with the panic text the serial port showed.
    @Test(arguments: ["machine.elf", "machine.kdump"])
    func consoleRingEndsWithSerialPanic(_ name: String) throws {
        let lab = try LabResults.ci()
        let session = try CrashSession(dumpPath: lab.host + "/" + name, elfPath: xenSyms)
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

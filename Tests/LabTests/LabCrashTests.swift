import BinaryIO
import Dump
import Foundation
import LabTestSupport
import Testing

/// Scenario "crash": Xen booted with `nmi=fatal noreboot`, an NMI injected
/// from QEMU's monitor, then QEMU's whole-machine dumps (ELF and kdump-zlib)
/// and `info registers -a`, all while the machine is stopped. The `ci`
/// profile crashes Debian's Xen, `selfbuilt` the hypervisor built from
/// Debian's source (ELF dump only).
@Suite struct LabCrashTests {
    /// (profile, dump file) pairs every crash test reads.
    static let dumps: [(String, String)] = [("ci", "machine.elf"), ("ci", "machine.kdump"), ("selfbuilt", "machine.elf")]

    @Test(arguments: ["ci", "selfbuilt"])
    func serialShowsTheNMIPanic(_ profile: String) throws {
        let serial = try LabResults.profile(profile).text("serial.log").replacingOccurrences(of: "\r\n", with: "\n")
        #expect(serial.contains(#/\(XEN\) Panic on CPU \d+:\n\(XEN\) FATAL TRAP: vec 2, NMI\[0000\]/#))
        #expect(serial.contains("Manual reset required ('noreboot' specified)"))
    }

    /// Per-pCPU registers in both dumps equal QEMU's `info registers -a`.
    @Test(arguments: dumps)
    func dumpRegistersEqualQEMUMonitor(_ profile: String, _ name: String) throws {
        let lab = try LabResults.profile(profile)
        let dump = try openDump(path: lab.host + "/" + name)
        #expect(dump.diagnostics.isEmpty, "\(dump.diagnostics)")
        let monitor = try lab.text("info-registers.txt")
        let perCPU = monitor.split(separator: "CPU#").dropFirst()
        #expect(perCPU.count == 2 && dump.cpus.count == 2)
        for (i, text) in perCPU.enumerated() where i < dump.cpus.count {
            let q = registers(in: text, separator: "=")
            let c = dump.cpus[i]
            let ours: [String: UInt64] = [
                "rip": c.rip, "rsp": c.rsp, "rax": c.rax, "rbx": c.rbx, "rcx": c.rcx, "rdx": c.rdx,
                "rsi": c.rsi, "rdi": c.rdi, "rbp": c.rbp, "r8": c.r8, "r9": c.r9, "r10": c.r10,
                "r11": c.r11, "r12": c.r12, "r13": c.r13, "r14": c.r14, "r15": c.r15, "rfl": c.rflags,
            ]
            for (reg, value) in ours {
                #expect(q[reg] == value, "\(name) cpu \(i) \(reg): dump \(String(value, radix: 16)) monitor \(q[reg].map { String($0, radix: 16) } ?? "missing")")
            }
            // Both CPUs were in Xen (its code lives at 0xffff82d04…).
            #expect(c.rip >> 32 == 0xffff_82d0, "\(name) cpu \(i) rip \(String(c.rip, radix: 16))")
        }
    }

    /// The panic text the serial port showed is in the dumped memory (Xen's
    /// console ring, `console_to_ring`).
    @Test(arguments: ["ci", "selfbuilt"])
    func panicTextIsInTheMachineMemory(_ profile: String) throws {
        let lab = try LabResults.profile(profile)
        let file = try MappedFile(path: lab.host + "/machine.elf")
        let needle = Array("FATAL TRAP: vec 2, NMI[0000]".utf8)
        let found = file.withBytes { bytes -> Bool in
            guard let base = bytes.baseAddress else { return false }
            // memchr for the first byte, memcmp for the rest (Glibc's memmem is not imported).
            var at = 0
            while at + needle.count <= bytes.count {
                guard let hit = memchr(base + at, Int32(needle[0]), bytes.count - at - needle.count + 1) else { return false }
                at = base.distance(to: UnsafeRawPointer(hit))
                if needle.withUnsafeBytes({ memcmp(base + at, $0.baseAddress!, needle.count) }) == 0 { return true }
                at += 1
            }
            return false
        }
        #expect(found)
    }
}

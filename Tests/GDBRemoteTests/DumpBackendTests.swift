import CrashTestSupport
import Dump
import Foundation
import GDBBackends
import GDBRemote
import Testing

/// gdb through the stub on QEMU dumps of the panicker guest, compared with
/// gdb reading the ELF dump with virtual addresses (`dump-paging.elf`)
/// directly. The stub serves the physical-only ELF dump and the kdump: it
/// walks each vCPU's page tables itself.
@Suite(.serialized) struct DumpBackendTests {
    static func perThread(_ n: Int) -> [String] {
        ["echo @@switch\(n)\\n", "thread \(n)", "echo @@regs\(n)\\n", "info registers", "echo @@bt\(n)\\n", "bt",
         "echo @@mem\(n)\\n", "x/64gx $sp", "echo @@end\(n)\\n"]
    }

    /// `xc-pv`/`xc-hvm`: the same dump rewritten in `xl dump-core` layout; the PV
    /// one has machine frames in its page tables (translated through the p2m).
    @Test(arguments: ["elf", "kdump", "xc-pv", "xc-hvm"])
    func gdbThroughTheStubMatchesGdbOnThePagingDump(_ kind: String) throws {
        let guest = try PanickerGuest.shared()
        let path = switch kind {
        case "elf": guest.elfDump
        case "kdump": guest.kdumpDump
        default: try guest.xenCore(String(kind.dropFirst(3)))
        }
        let stub = try RunningStub(backend: DumpBackend(path: path))
        defer { stub.stop() }
        var common = ["echo @@global\\n", "p panic_cpu", "echo @@threads\\n", "info threads"]
        for n in 1...2 { common += Self.perThread(n) }
        let remote = sections(gdbBatch([guest.kernelELF], commands: ["target remote 127.0.0.1:\(stub.port)"] + common))
        let direct = sections(gdbBatch([guest.kernelELF, guest.pagingDump], commands: common))
        #expect(remote["global"] == ["$1 = 1"])
        #expect(direct["global"] == ["$1 = 1"])
        for n in 1...2 {
            let d = direct["regs\(n)"] ?? [], r = remote["regs\(n)"] ?? []
            // gdb on the dump shows rax…gs; the stub adds fs_base, gs_base and
            // the control registers after them.
            #expect(d.count == 24, "\(d)")
            #expect(Array(r.prefix(24)) == d, "info registers, thread \(n)")
            // PV: CR3 holds a machine address, translated through the p2m.
            #expect(r.contains { $0.hasPrefix(kind == "xc-pv" ? "cr3            0x" : "cr3            0x101000 ") })
            #expect(remote["bt\(n)"] == direct["bt\(n)"], "bt, thread \(n)")
            #expect((remote["bt\(n)"] ?? []).count >= 4)
            #expect(remote["mem\(n)"] == direct["mem\(n)"], "x/64gx $sp, thread \(n)")
            #expect((remote["mem\(n)"] ?? []).count == 32)
        }
        // CPU 1 panicked: its stack has the whole chain.
        let bt2 = (remote["bt2"] ?? []).joined(separator: "\n")
        for f in ["cpu_halt", "panic", "checksum_failed", "verify_request", "handle_request", "run_worker", "ap_high"] {
            #expect(bt2.contains(" \(f) ") || bt2.contains(" \(f) ("), "\(f) missing in\n\(bt2)")
        }
        #expect((remote["threads"] ?? []).contains { $0.contains("vCPU 1, cr3 0x") })
    }

    /// `monitor dmesg` is the crash analyser's console ring, byte for byte.
    @Test func monitorDmesgShowsTheConsoleRing() throws {
        let guest = try PanickerGuest.shared()
        let backend = try DumpBackend(path: guest.kdumpDump, kernel: guest.kernelELF)
        let expected = try backend.crash!.consoleRing().text
        #expect(backend.stopEvent().thread == 2)   // CPU 1 panicked (panic_cpu = 1)
        let stub = try RunningStub(backend: backend)
        defer { stub.stop() }
        let out = gdbBatch([guest.kernelELF], commands: ["target remote 127.0.0.1:\(stub.port)", "echo @@dmesg\\n", "monitor dmesg", "echo @@end\\n"])
        let shown = (sections(out)["dmesg"] ?? []).joined(separator: "\n")
        #expect(expected.contains("bad checksum"))
        #expect(shown + "\n" == (expected.hasSuffix("\n") ? expected : expected + "\n"))
        let bare = try DumpBackend(path: guest.kdumpDump)
        #expect(bare.stopEvent().thread == 1)      // without symbols: QEMU's kdump header says CPU 0
        #expect(bare.monitor("dmesg", thread: 1) == "monitor dmesg needs the kernel's symbols: start the stub with --elf KERNEL\n")
    }

    @Test func physicalModeAndPageWalkMonitorCommands() throws {
        let guest = try PanickerGuest.shared()
        let dump = try ElfCoreDump(path: guest.elfDump)
        let stub = try RunningStub(backend: DumpBackend(dump: dump))
        defer { stub.stop() }
        let pml4 = try dump.readPhysicalWord(0x101000 + 511 * 8)
        let s = sections(gdbBatch([guest.kernelELF], commands: [
            "target remote 127.0.0.1:\(stub.port)",
            "echo @@translate\\n", "monitor translate 0xffffffff80000000",
            "echo @@translate2\\n", "monitor translate 0xffffffff80100000",
            "echo @@phys\\n", "monitor phys on", "x/gx 0x101ff8", "monitor phys off",
            "echo @@write\\n", "set var panic_cpu = 3", "p panic_cpu",
            "echo @@info\\n", "monitor info dump", "echo @@end\\n"]))
        #expect(s["translate"] == ["0xffffffff80000000: not mapped (PT entry at physical 0x108000 is 0x0, not present)"])
        #expect(s["translate2"]?.first?.hasPrefix("0xffffffff80100000 -> physical 0x100000 (vCPU 0, cr3 0x101000)") == true)
        let hex = "0x" + String(pml4, radix: 16).leftPad(16)
        #expect(s["phys"] == ["memory addresses are guest-physical", "0x101ff8:\t\(hex)", "memory addresses are virtual (through the vCPU's page tables)"])
        #expect(s["write"]?.last == "$1 = 1")
        #expect(s["info"]?.first == "\(guest.elfDump): elf, 2 CPUs, page size 4096")
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

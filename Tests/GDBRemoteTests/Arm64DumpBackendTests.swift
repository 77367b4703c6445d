import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import GDBBackends
import GDBRemote
import Testing

/// gdb-multiarch through the stub on QEMU's arm64 dumps of the arm64 panicker
/// guest (2 vCPUs: CPU 0 panicked, CPU 1 idles), compared with gdb-multiarch
/// reading the ELF dump directly (`dump-gdb.elf`, whose RAM segment carries
/// the higher-half virtual address). The stub serves the unmodified,
/// physical-only dumps and walks the kernel's aarch64 page tables itself.
@Suite(.serialized) struct Arm64DumpBackendTests {
    static let gdbMultiarch = "/usr/bin/gdb-multiarch"

    static func batch(_ args: [String], _ commands: [String]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: gdbMultiarch) else {
            throw MissingTool(description: "\(gdbMultiarch) missing: scripts/install-deps.sh installs gdb-multiarch")
        }
        var argv = [gdbMultiarch, "-batch", "-nx", "-ex", "set pagination off", "-ex", "set width 0"]
        for c in commands { argv += ["-ex", c] }
        return runTool(argv + args).output
    }

    static func perThread(_ n: Int) -> [String] {
        ["thread \(n)", "echo @@regs\(n)\\n", "info registers", "echo @@bt\(n)\\n", "bt",
         "echo @@stack\(n)\\n", "x/16gx $sp", "echo @@end\(n)\\n"]
    }

    @Test(arguments: ["elf", "kdump"])
    func gdbMultiarchThroughTheStubMatchesTheCore(_ kind: String) throws {
        let g = try Arm64PanickerGuest.shared()
        let backend = try DumpBackend(path: kind == "elf" ? g.elfDump : g.kdumpDump, kernel: g.kernelELF)
        #expect(backend.registerDescription?.registers.count == 68)   // 34 core + 32 v + fpsr + fpcr
        let stub = try RunningStub(backend: backend)
        defer { stub.stop() }
        var common = ["echo @@global\\n", "p panic_cpu", "p requests[2]", "p/x conringp",
                      "echo @@data\\n", "x/16gx &requests", "echo @@threads\\n", "info threads"]
        for n in 1...2 { common += Self.perThread(n) }
        let remote = sections(try Self.batch([g.kernelELF], ["target remote 127.0.0.1:\(stub.port)"] + common))
        let direct = sections(try Self.batch([g.kernelELF, g.gdbDump], common))

        // Globals through DWARF and the page walk.
        #expect(remote["global"]?.first == "$1 = 0")
        #expect(remote["global"]?.dropFirst().first?.hasPrefix("$2 = {id = 3, checksum = 153, name = 0xffff") == true)
        #expect(remote["global"] == direct["global"])
        #expect(remote["data"] == direct["data"])
        #expect(remote["data"]?.count == 8)
        // Two threads, CPU 0 (the panicking one) selected.
        let threads = Array((remote["threads"] ?? []).prefix { !$0.hasPrefix("[Switching") })
        #expect(threads.count == 3, "\(threads)")
        #expect(threads.contains { $0.hasPrefix("* 1    Thread 1 \"vcpu0\" (vCPU 0, ttbr1 0x40083000, \(kind == "elf" ? "elf" : "kdump-flattened") dump) ") && $0.contains(" panic (") }, "\(threads)")
        #expect(threads.contains { $0.hasPrefix("  2    Thread 2 \"vcpu1\" (vCPU 1, ttbr1 0x40083000, \(kind == "elf" ? "elf" : "kdump-flattened") dump) ") && $0.contains("secondary_idle ()") }, "\(threads)")
        for n in 1...2 {
            let d = direct["regs\(n)"] ?? [], r = remote["regs\(n)"] ?? []
            // gdb on the core: x0–x30, sp, pc, cpsr, fpsr, fpcr (and nothing the stub lacks).
            #expect(d.count >= 36, "\(d)")
            #expect(r == d, "info registers, thread \(n)")
            #expect(remote["bt\(n)"] == direct["bt\(n)"], "bt, thread \(n)")
            #expect(remote["stack\(n)"] == direct["stack\(n)"], "x/16gx $sp, thread \(n)")
            #expect(remote["stack\(n)"]?.count == 8)
        }
        // The same frames as the crash analyser's backtraces.
        let session = try #require(backend.crash)
        for (n, bt) in try session.backtraces().enumerated() {
            let gdbFrames = parseGDBSingleBacktrace((remote["bt\(n + 1)"] ?? []).joined(separator: "\n"))
            let ours = bt.frames.map { GDBFrame(function: $0.function ?? "??", line: $0.location?.line) }
            #expect(ours == gdbFrames, "CPU \(n): xenscope \(ours) vs gdb-multiarch through the stub \(gdbFrames)")
        }
        #expect(parseGDBSingleBacktrace((remote["bt1"] ?? []).joined(separator: "\n")).map(\.function)
                == ["panic", "check_request", "handle_request", "dispatch", "kmain", "high_entry"])
    }

    /// The vector registers and `monitor` commands on aarch64.
    @Test func vectorRegistersAndMonitor() throws {
        let g = try Arm64PanickerGuest.shared()
        let backend = try DumpBackend(path: g.elfDump, kernel: g.kernelELF)
        let stub = try RunningStub(backend: backend)
        defer { stub.stop() }
        let remote = sections(try Self.batch([g.kernelELF], ["target remote 127.0.0.1:\(stub.port)",
            "echo @@v\\n", "p/x $v31.d.u", "p $fpcr", "echo @@translate\\n", "monitor translate 0xffff000040080000",
            "monitor translate 0xffff000000000000", "monitor translate 0xffff000080000000",
            "echo @@vcpus\\n", "monitor info vcpus", "echo @@write\\n", "set var panic_cpu = 1", "set $x0 = 1", "echo @@end\\n"]))
        let direct = sections(try Self.batch([g.kernelELF, g.gdbDump], ["echo @@v\\n", "p/x $v31.d.u", "p $fpcr", "echo @@end\\n"]))
        #expect(remote["v"] == direct["v"])
        #expect(remote["v"]?.count == 2)
        #expect(remote["translate"] == [
            "0xffff000040080000 -> physical 0x40080000 (vCPU 0, ttbr1 0x40083000)",
            "0xffff000000000000 -> physical 0x9000000 (vCPU 0, ttbr1 0x40083000)",   // the PL011, an L3 page
            "0xffff000080000000: not mapped (level 1 descriptor at physical 0x40084010 is 0x0, invalid)",
        ])
        let vcpus = remote["vcpus"] ?? []
        #expect(vcpus.first?.hasPrefix("thread  name          pc                  sp                  description") == true)
        #expect(vcpus.count == 3)
        #expect(vcpus.dropFirst().first?.hasPrefix("*1      vcpu0         0xffff0000400") == true)
        #expect(vcpus.last?.hasSuffix("vCPU 1, ttbr1 0x40083000, elf dump") == true)
        #expect((remote["write"] ?? []).count == 2, "\(remote["write"] ?? [])")
        // Without symbols there are no page tables: gdb sees registers, not memory.
        let bare = try DumpBackend(path: g.elfDump)
        #expect(bare.threads()[0].extraInfo == "vCPU 0, no page tables (no TTBR saved; start with --elf KERNEL), elf dump")
        #expect(bare.monitor("translate 0xffff000040080000", thread: 1) == "vCPU of thread 1 has no page tables: no TTBR saved; start the stub with --elf KERNEL\n")
    }
}

/// gdb-multiarch through the stub on Debian's arm64 kernel (KASLR on):
/// symbols relocated by qOffsets, globals through DWARF and our page walk,
/// the panicking CPU (panic_cpu = 1) as the stop thread.
@Suite(.serialized) struct LinuxArm64DumpBackendTests {
    @Test(arguments: ["elf", "kdump"])
    func linuxGuestThroughTheStub(_ kind: String) throws {
        let g = try LinuxArm64Guest.shared()
        let backend = try DumpBackend(path: kind == "elf" ? g.elfDump : g.kdumpDump, kernel: g.vmlinux)
        #expect(backend.stopEvent().thread == 2)
        #expect(backend.sectionOffsets != nil)   // KASLR: gdb relocates by qOffsets
        let release = URL(fileURLWithPath: g.directory).lastPathComponent
        let stub = try RunningStub(backend: backend)
        defer { stub.stop() }
        let out = sections(try Arm64DumpBackendTests.batch([g.vmlinux], ["target remote 127.0.0.1:\(stub.port)",
            "echo @@threads\\n", "info threads", "echo @@globals\\n", "p panic_cpu.counter", "p init_uts_ns.name.release",
            "echo @@frame\\n", "frame", "echo @@end\\n"]))
        let threads = out["threads"] ?? []
        #expect(threads.count == 3, "\(threads)")
        #expect(threads.contains { $0.hasPrefix("* 2    Thread 2 \"vcpu1\" (vCPU 1, ttbr1 0x") }, "\(threads)")
        #expect(out["globals"]?.first == "$1 = 1")
        #expect(out["globals"]?.dropFirst().first?.hasPrefix("$2 = \"\(release)\", '\\000' <repeats ") == true, "\(out["globals"] ?? [])")
        // gdb's frame 0 is the crash analyser's.
        let session = try #require(backend.crash)
        let ours = try #require(try session.backtraces()[1].frames.first?.function)
        // gdb puts "0xPC in " before the name when the pc is not at the start
        // of a line, and the arguments it can read in the parentheses (the
        // CPU may be caught anywhere, e.g. in a timer interrupt's handler).
        let frame0 = out["frame"]?.first ?? ""
        let named = frame0.hasPrefix("#0  \(ours) (")
            || (frame0.hasPrefix("#0  0x") && frame0.contains(" in \(ours) ("))
        #expect(named, "\(out["frame"] ?? []) vs \(ours)")
    }
}

struct MissingTool: Error, CustomStringConvertible { let description: String }

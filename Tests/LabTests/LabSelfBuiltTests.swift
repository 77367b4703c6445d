import CrashAnalysis
import DWARF
import Dump
import ELF
import Foundation
import LabTestSupport
import Testing
import XenTrace

/// Profile `selfbuilt`: the hypervisor built from Debian's own source
/// (lab/build-xen.sh: CONFIG_GDBSX, CONFIG_DEBUG_INFO, frame pointers) boots
/// with Debian's dom0 userland; the scenario records `xl info`, a scheduler
/// trace, xenctx and a PV guest's `xl dump-core`, then the host crashes the
/// hypervisor with an NMI and takes QEMU's whole-machine ELF dump
/// (`machine.elf`, read with `LabCrashTests`/`LabCrashRingTests` too).
@Suite struct LabSelfBuiltTests {
    /// The kept xen-syms carries DWARF and is the one that booted: `xl info`
    /// shows its build-id.
    @Test func selfBuiltXenBootedWithDWARF() throws {
        let r = try LabResults.profile("selfbuilt")
        let syms = try ELFFile(path: r.xenSyms)
        #expect(syms.section(named: ".debug_info") != nil, "xen-syms has no DWARF")
        let id = try #require(syms.buildIDHex)
        let info = try r.text("results/selfbuilt/xl-info.txt")
        let shown = try #require(info.firstMatch(of: #/build_id\s+:\s+([0-9a-f]+)/#)?.1, "xl info has no build_id")
        #expect(String(shown) == id)
        #expect(info.contains(#/xen_version\s+:\s+4\.17\./#))
    }

    /// The PV guest's xc_core registers equal what xenctx printed while it was paused.
    @Test func guestDumpRegistersEqualXenctx() throws {
        let r = try LabResults.profile("selfbuilt")
        let log = try r.text("results/selfbuilt/log.txt")
        #expect(log.contains("dump-core rc=0"), "selfbuilt log: \(log.suffix(400))")
        let dump = try XenCoreDump(path: r.dom0 + "/selfbuilt/pv.core")
        #expect(dump.diagnostics.isEmpty, "\(dump.diagnostics)")
        #expect(dump.isPV && dump.cpus.count == 2 && dump.headerPages == 128 << 8)
        for v in 0..<2 where v < dump.cpus.count {
            let x = registers(in: try r.text("results/selfbuilt/xenctx-vcpu\(v).txt")[...], separator: ":")
            expectRegistersEqualXenctx(dump.cpus[v], x, "vcpu \(v)")
        }
    }

    /// The scheduler trace taken on the self-built hypervisor decodes cleanly on both pCPUs.
    @Test func schedulerTraceDecodes() throws {
        let r = try LabResults.profile("selfbuilt")
        let info = TraceInfo(try TraceFile(path: r.dom0 + "/selfbuilt/sched.xentrace"))
        #expect(info.diagnostics.isEmpty, "\(info.diagnostics)")
        #expect(info.cpus.map(\.cpu) == [0, 1])
        #expect(info.cpus.allSatisfy { $0.records > 100 })
    }
}

/// The NMI crash of the self-built hypervisor, read with its DWARF: the
/// panicking pCPU's backtrace is unwound through the dump's own page tables
/// and symbolized through libdw with file:line and inline frames, exactly as
/// elfutils' eu-addr2line names each address.
@Suite struct LabSelfBuiltCrashTests {
    @Test func panicBacktraceHasDWARFLinesAndInlineFrames() throws {
        let r = try LabResults.profile("selfbuilt")
        let session = try CrashSession(dumpPath: r.host + "/machine.elf", elfPath: r.xenSyms)
        let symbols = try #require(session.symbols)
        #expect(symbols.hasDWARF)
        let serial = try r.text("serial.log").replacingOccurrences(of: "\r\n", with: "\n")
        let cpu = try #require(serial.firstMatch(of: #/Panic on CPU (\d+):/#).flatMap { Int($0.1) })
        let bts = try session.backtraces()
        #expect(bts.map(\.cpu) == [0, 1])
        let bt = try #require(bts.first { $0.cpu == cpu })
        let text = formatBacktrace(bt)
        // The panicking CPU is in panic()'s machine_halt(), called from the
        // NMI's fatal_trap(); the unwinder stops at the assembly entry (no CFI there).
        let names = bt.frames.map { $0.function ?? "??" }
        let cut = try #require(names.firstIndex(of: "machine_halt"), "\(text)")
        #expect(Array(names[cut...]) == ["machine_halt", "panic", "fatal_trap", "unknown_nmi_error", "do_nmi", "handle_ist_exception"], "\(text)")
        #expect(Array(bt.frames[cut...].map(\.inlined)) == [false, false, false, true, false, false], "\(text)")
        // Usually it halted (__machine_halt, inlined). When the NMI came while
        // this CPU held smp_call_function's lock for another call (one CI boot:
        // time calibration's rendezvous), machine_halt's own IPI waits on that
        // lock for ever: the frames above machine_halt end in smp_call_function.
        let halted = Array(names[..<cut]) == ["__machine_halt"] && bt.frames[0].inlined
        let blocked = names[..<cut].last == "smp_call_function" && names[..<cut].contains("on_selected_cpus")
        #expect(halted || blocked, "\(text)")
        // The other CPU is in an IPI's call: panic's machine_halt() halted it,
        // or it still waits in the rendezvous the panicking CPU started.
        let other = try #require(bts.first { $0.cpu != cpu })
        #expect(other.frames.contains { $0.function == "smp_call_function_interrupt" }, "\(formatBacktrace(other))")
        if halted { #expect(other.frames.first?.function == "__machine_halt", "\(formatBacktrace(other))") }
        #expect(CrashSession.cpuInPanic(bts) == cpu, "\(text)")
        // Every frame has a source line; some are inlined calls (DWARF only).
        #expect(bt.frames.allSatisfy { $0.location != nil && $0.location!.line > 0 }, "\(text)")
        #expect(bt.frames.contains { $0.inlined }, "no inline frame: \(text)")
        #expect(bt.frames.first { $0.function == "panic" }?.location?.file.hasSuffix("drivers/char/console.c") == true, "\(text)")
        // Each physical frame's inline chain and lines equal eu-addr2line's.
        var lookups: [UInt64] = []
        for f in bt.frames where !lookups.contains(f.method == "initial" ? f.pc : f.pc - 1) {
            lookups.append(f.method == "initial" ? f.pc : f.pc - 1)
        }
        let eu = try euAddr2line(r.xenSyms, lookups)
        for a in lookups {
            #expect(eu[a] == symbols.symbolize(a).addr2lineText, "0x\(String(a, radix: 16)): eu-addr2line \(eu[a] ?? "nil") ours \(symbols.symbolize(a).addr2lineText)")
        }
    }
}

/// `eu-addr2line -a -f -i -e FILE` over `addresses`, its text per address.
func euAddr2line(_ file: String, _ addresses: [UInt64]) throws -> [UInt64: String] {
    let out = try run("/usr/bin/eu-addr2line", ["-a", "-f", "-i", "-e", file] + addresses.map { "0x" + String($0, radix: 16) })
    var result: [UInt64: String] = [:]
    var current: UInt64?
    for line in out.split(separator: "\n") {
        if line.hasPrefix("0x"), let a = UInt64(line.dropFirst(2), radix: 16) { current = a; result[a] = ""; continue }
        if let c = current { result[c]! += line + "\n" }
    }
    return result
}

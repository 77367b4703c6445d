import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import Testing

/// `xenscope crash` on real arm64 dumps: the arm64 panicker guest under
/// qemu-system-aarch64, checked against its UART output and gdb-multiarch.
@Suite struct Arm64CrashTests {
    @Test func registersMatchGDBMultiarch() throws {
        let g = try Arm64PanickerGuest.shared()
        let s = try CrashSession(dumpPath: g.elfDump, elfPath: g.kernelELF)
        #expect(s.dump.architecture == .aarch64)
        #expect(s.dump.cpus.count == 2)
        let gdb = parseGDBRegisters(try g.gdb(["info registers"]))
        #expect(gdb.count == 1)
        let ours = Dictionary(uniqueKeysWithValues: s.dump.cpus[0].named.compactMap { n in n.value.map { (n.name, $0) } })
        let names = (0..<31).map { "x\($0)" } + ["sp", "pc", "cpsr", "fpsr", "fpcr"]
        for n in names {
            #expect(gdb.first?[n] != nil, "gdb-multiarch printed no \(n)")
            #expect(ours[n] == gdb.first?[n], "register \(n)")
        }
        // The panicking CPU stopped inside panic(), in EL1 with SP_EL1.
        let a = try #require(s.dump.cpus[0].aarch64)
        #expect(s.symbols?.symbolize(a.pc).symbol == "panic")
        #expect(a.pstate & 0xf == 0b0101)
        #expect(a.vregs?.count == 512)
    }

    @Test func backtraceMatchesGDBMultiarch() throws {
        let g = try Arm64PanickerGuest.shared()
        let s = try CrashSession(dumpPath: g.elfDump, elfPath: g.kernelELF)
        let bt = try #require(try s.backtraces().first)
        #expect(bt.stopReason == "end of stack")
        let ours = bt.frames.map { GDBFrame(function: $0.function ?? "??", line: $0.location?.line) }
        let theirs = parseGDBSingleBacktrace(try g.gdb(["bt"]))
        #expect(ours.map(\.function) == ["panic", "check_request", "handle_request", "dispatch", "kmain", "high_entry"])
        #expect(ours == theirs, "xenscope \(ours) vs gdb-multiarch \(theirs)")
        #expect(bt.frames[1].inlined && !bt.frames[2].inlined)
        #expect(bt.frames[1].pc == bt.frames[2].pc)
        // CPU 1 idles: gdb's thread 2.
        let bt1 = try s.backtraces()[1]
        let ours1 = bt1.frames.map { GDBFrame(function: $0.function ?? "??", line: $0.location?.line) }
        let out1 = try g.gdb(["thread 2", "echo @@bt\\n", "bt"])
        let theirs1 = parseGDBSingleBacktrace(String(out1[(out1.range(of: "@@bt\n")?.upperBound ?? out1.startIndex)...]))
        #expect(ours1.map(\.function) == ["secondary_idle", "secondary_main", "secondary_high"])
        #expect(ours1 == theirs1, "xenscope \(ours1) vs gdb-multiarch \(theirs1)")
    }

    @Test func consoleLogAndPanicMatchTheUART() throws {
        let g = try Arm64PanickerGuest.shared()
        let serial = try String(contentsOfFile: g.serialLog, encoding: .utf8)
        for path in [g.elfDump, g.kdumpDump] {
            let s = try CrashSession(dumpPath: path, elfPath: g.kernelELF)
            let log = try s.consoleRing()
            #expect(log.text == serial, "\(path)")
            let p = s.panicInfo(log: log)
            #expect(p.message == "Kernel panic - not syncing: request 3: bad checksum d2 (expected 99)")
            #expect(p.cpu == 0 && p.cpuSource == "panic_cpu variable")
        }
    }

    @Test func kdumpHasTheSameRegistersAndBacktrace() throws {
        let g = try Arm64PanickerGuest.shared()
        let e = try CrashSession(dumpPath: g.elfDump, elfPath: g.kernelELF)
        let k = try CrashSession(dumpPath: g.kdumpDump, elfPath: g.kernelELF)
        #expect(k.dump.format == .kdumpFlattened)
        #expect(k.dump.architecture == .aarch64)
        #expect(k.dump.cpus.map(\.aarch64) == e.dump.cpus.map(\.aarch64))
        #expect(try k.backtraces() == e.backtraces())
    }
}

import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import Testing

/// Backtraces against gdb's `thread apply all bt` on the same crash: gdb reads
/// the ELF dump with virtual addresses; XenScope reads every format.
@Suite struct BacktraceTests {
    let guest: PanickerGuest
    init() throws { guest = try PanickerGuest.shared() }

    @Test func sameFramesAsGDBInEveryFormat() throws {
        let text = try guest.gdb(guest.pagingDump, ["thread apply all bt"])
        let gdb = parseGDBBacktraces(text)
        try #require(gdb.count == 2, "gdb output:\n\(text)")
        // The panic chain gdb prints, with the inlined verify_request.
        #expect(gdb[2]!.map(\.function) == ["cpu_halt", "panic", "checksum_failed", "verify_request", "handle_request",
                                              "run_worker", "ap_idle", "ap_main", "ap_high"], "\(text)")
        for path in [guest.elfDump, guest.pagingDump, guest.kdumpDump, try guest.xenCore("hvm"), try guest.xenCore("pv")] {
            let s = try CrashSession(dumpPath: path, elfPath: guest.kernelELF)
            let bts = try s.backtraces()
            #expect(bts.count == 2)
            for bt in bts {
                let ours = bt.frames.map { GDBFrame(function: $0.function ?? "??", line: $0.location?.line) }
                #expect(ours == gdb[bt.cpu + 1], "\(path) CPU \(bt.cpu):\n\(formatBacktrace(bt))\ngdb:\n\(text)")
                #expect(bt.stopReason == "end of stack")
            }
            let inlined = try #require(bts[1].frames.first { $0.function == "verify_request" })
            #expect(inlined.inlined)
            #expect(CrashSession.cpuInPanic(bts) == 1)
        }
    }

    /// Frame pcs equal gdb's addresses for the frames gdb prints one for.
    @Test func samePCsAsGDB() throws {
        let text = try guest.gdb(guest.pagingDump, ["thread apply all bt"])
        var gdbPCs = [UInt64]()
        for l in text.split(separator: "\n") where l.hasPrefix("#") {
            let f = l.split(separator: " ", omittingEmptySubsequences: true)
            if f.count > 2, f[1].hasPrefix("0x"), f[2] == "in" { gdbPCs.append(UInt64(f[1].dropFirst(2), radix: 16)!) }
        }
        let s = try CrashSession(dumpPath: guest.elfDump, elfPath: guest.kernelELF)
        let bts = try s.backtraces()
        // gdb lists thread 2 first ("thread apply all" goes from the highest).
        var ours = [UInt64]()
        for bt in bts.reversed() {
            var lastPC: UInt64? = nil
            for (i, f) in bt.frames.enumerated() where i > 0 && f.pc != lastPC { ours.append(f.pc); lastPC = f.pc }
            _ = lastPC
        }
        #expect(Set(ours) == Set(gdbPCs), "ours \(ours.map { String($0, radix: 16) }) gdb \(gdbPCs.map { String($0, radix: 16) })")
    }
}

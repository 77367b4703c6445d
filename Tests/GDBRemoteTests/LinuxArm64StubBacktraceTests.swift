import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import GDBBackends
import GDBRemote
import Testing

/// gdb-multiarch's `bt` through the stub on Debian's arm64 kernel, frame by
/// frame against `xenscope crash bt` on the same dump, for every CPU.
///
/// gdb unwinds C functions by the kernel's `.debug_frame`; the entry
/// assembly (`call_on_irq_stack`, the `el1h_64_*`/`el0t_64_*` vectors) has
/// none, and gdb's aarch64 prologue analyser reads only the first line-table
/// row of such a function (one instruction, `bti c`), so it finds no saved
/// x29/x30, takes x30 — which the `blr` into C left pointing back into the
/// same function — as the return address, and stops with "previous frame
/// identical to this frame" (docs/crash.md). What CPU was doing what varies
/// between boots, so the test checks this invariant rather than a frame
/// count: gdb's frames are ours up to that point, and where gdb stops
/// early it is at an assembly (`.S`) function of ours. A CPU caught in the
/// entry assembly itself (frame 0 without CFI) leaves only frame 0 to compare.
@Suite(.serialized) struct LinuxArm64StubBacktraceTests {
    /// One `bt` line of gdb: function, the pc when gdb printed one, the source file.
    struct Line: Equatable, CustomStringConvertible {
        var function: String
        var pc: UInt64?
        var file: String?
        var description: String { "\(function)" + (pc.map { "@0x" + String($0, radix: 16) } ?? "") }
    }

    static func parse(_ lines: [String]) -> [Line] {
        lines.compactMap { line in
            guard line.hasPrefix("#") else { return nil }
            var rest = line.drop { $0 != " " }.drop { $0 == " " }
            var pc: UInt64? = nil
            if rest.hasPrefix("0x"), let sp = rest.firstIndex(of: " ") {
                pc = UInt64(rest[rest.index(rest.startIndex, offsetBy: 2)..<sp], radix: 16)
                rest = rest[sp...].drop { $0 == " " }
                if rest.hasPrefix("in ") { rest = rest.dropFirst(3) }
            }
            guard let paren = rest.firstIndex(of: " ") else { return nil }
            let file = line.range(of: ") at ", options: .backwards).map { String(line[$0.upperBound...].prefix { $0 != ":" }) }
            return Line(function: String(rest[..<paren]), pc: pc, file: file)
        }
    }

    @Test func everyCPUsBacktraceThroughTheStubIsOurs() throws {
        let g = try LinuxArm64Guest.shared()
        let backend = try DumpBackend(path: g.elfDump, kernel: g.vmlinux)
        let stub = try RunningStub(backend: backend)
        defer { stub.stop() }
        let session = try #require(backend.crash)
        let ours = try session.backtraces()
        #expect(ours.count == 2)
        var commands = ["target remote 127.0.0.1:\(stub.port)"]
        for n in ours.indices.map({ $0 + 1 }) { commands += ["thread \(n)", "echo @@bt\(n)\\n", "bt", "echo @@end\(n)\\n"] }
        let out = sections(try Arm64DumpBackendTests.batch([g.vmlinux], commands))
        for (i, bt) in ours.enumerated() {
            let lines = out["bt\(i + 1)"] ?? []
            let gdb = Self.parse(lines)
            let mine = bt.frames.map { Line(function: $0.function ?? "??", pc: $0.pc, file: $0.location?.file) }
            let symbols = try #require(session.symbols)
            if let pc = bt.frames.first?.pc, !symbols.hasCFI(at: pc) {
                // Caught in entry assembly itself (an exception vector, the
                // interrupt just taken): nothing there is saved yet, gdb
                // guesses from x30 onwards (a fresh CI dump gave four
                // frames ending at 0xfffffffffffffffb); only frame 0 is
                // common ground.
                #expect(gdb.first?.function == mine.first?.function, "CPU \(i): gdb \(gdb) vs xenscope \(mine)")
                #expect(gdb.first?.function != nil && gdb.first?.file?.hasSuffix(".S") == true, "CPU \(i): gdb \(gdb)")
                continue
            }
            #expect(gdb.count >= 2 && gdb.count <= mine.count, "CPU \(i): gdb \(gdb) vs xenscope \(mine)")
            // Frame by frame: the same function; the same pc where gdb prints one.
            for (k, (a, b)) in zip(gdb, mine).enumerated() {
                #expect(a.function == b.function, "CPU \(i) frame \(k): gdb \(a) vs xenscope \(b)")
                if let pc = a.pc { #expect(pc == b.pc, "CPU \(i) frame \(k): gdb \(a) vs xenscope \(b)") }
            }
            if gdb.count < mine.count {
                // gdb stopped early: at an assembly function, for the reason above.
                #expect(lines.contains("Backtrace stopped: previous frame identical to this frame (corrupt stack?)"), "\(lines)")
                #expect(gdb.last?.file?.hasSuffix(".S") == true, "CPU \(i): gdb stopped at \(gdb.last.map(String.init(describing:)) ?? "-")")
            }
        }
    }
}

import FixtureSupport
import Foundation
import Testing
import ELF
@testable import DWARF

/// One line of a backtrace as gdb prints it: function name and, when gdb
/// shows one, the frame's pc.
struct BacktraceLine: Equatable, CustomStringConvertible {
    var name: String
    var pc: UInt64?
    var description: String { (pc.map { "0x" + String($0, radix: 16) + " in " } ?? "") + name }
}

@Suite(.serialized) struct UnwinderTests {
    /// The crash fixture, statically linked, run under gdb until abort() and
    /// dumped with gcore; returns (executable, core, gdb's `bt`).
    static func crashCore() throws -> (String, String, String) {
        let dir = try FixtureCompiler.tempDir()
        let exe = try FixtureCompiler.compile(["unwind/crash.c"], output: "crash", in: dir, flags: ["-g", "-O2", "-static"])
        let core = dir + "/crash.core"
        do {
            try FixtureCompiler.run("timeout", ["120", "gdb", "-batch", "-nx", "-ex", "handle SIGUSR1 nostop noprint pass", "-ex", "run", "-ex", "gcore " + core, exe])
        } catch {
            throw FixtureError("gdb is needed to write the test core (Debian package gdb; `make test` installs it): \(error)")
        }
        guard FileManager.default.fileExists(atPath: core) else { throw FixtureError("gdb did not write \(core)") }
        let bt = try FixtureCompiler.run("timeout", ["120", "gdb", "-batch", "-nx", "-ex", "bt", exe, core])
        return (exe, core, bt)
    }

    /// gdb's `bt` lines: `#N  0xPC in NAME (...)`, `#N  NAME (...)`, `#N  <signal handler called>`.
    static func parseGDB(_ text: String) -> [BacktraceLine] {
        var out: [BacktraceLine] = []
        // gdb prints frame #0 once when it loads the core; the bt starts at the last "#0".
        let lines = text.split(separator: "\n")
        let start = lines.lastIndex { $0.hasPrefix("#0 ") } ?? 0
        for line in lines[start...] where line.hasPrefix("#") {
            var rest = line.drop { $0 != " " }.drop { $0 == " " }
            if rest.hasPrefix("<signal handler called>") { out.append(BacktraceLine(name: "<signal handler called>", pc: nil)); continue }
            var pc: UInt64?
            if rest.hasPrefix("0x"), let sp = rest.firstIndex(of: " ") {
                pc = UInt64(rest[rest.index(rest.startIndex, offsetBy: 2)..<sp], radix: 16)
                rest = rest[sp...].dropFirst(" in ".count)[...]
            }
            let name = rest.prefix { $0 != " " && $0 != "(" }
            out.append(BacktraceLine(name: String(name), pc: pc))
        }
        return out
    }

    /// Our physical frames expanded into gdb's shape: inline chains become
    /// several lines (only the innermost has the pc), signal trampolines
    /// become `<signal handler called>`.
    static func expand(_ bt: Backtrace, _ sym: Symbolizer) -> [BacktraceLine] {
        var out: [BacktraceLine] = []
        for f in bt.frames {
            if f.isSignalFrame { out.append(BacktraceLine(name: "<signal handler called>", pc: nil)); continue }
            let r = sym.symbolize(f.lookupAddress)
            for (i, fr) in r.frames.enumerated() {
                out.append(BacktraceLine(name: fr.function ?? r.symbol ?? "??", pc: i == 0 ? f.pc : nil))
            }
        }
        return out
    }

    /// Our frames from the core equal gdb's `bt` on the same core, through a
    /// signal frame and an inlined function, down to main.
    @Test func coreBacktraceMatchesGDB() throws {
        let (exe, corePath, gdbText) = try Self.crashCore()
        let gdb = Self.parseGDB(gdbText)
        #expect(gdb.count >= 10, "gdb printed: \(gdbText)")
        let core = try ElfCore(path: corePath)
        let thread = try #require(core.threads.first)
        #expect(thread.signal == 6)
        let unwinder = try Unwinder(images: [.init(path: exe)])
        let bt = unwinder.unwind(registers: thread.registers.dwarfRegisters) { core.readWord(at: $0) }
        let ours = Self.expand(bt, try Symbolizer(path: exe))
        // gdb stops at main ("backtrace past-main" is off); we continue to _start.
        let upToMain = Array(ours.prefix { $0.name != "main" }) + ours.filter { $0.name == "main" }.prefix(1)
        #expect(upToMain.map(\.name) == gdb.map(\.name), "ours: \(ours)\ngdb: \(gdb)")
        for (o, g) in zip(upToMain, gdb) where g.pc != nil {
            #expect(o.pc == g.pc, "\(o) vs gdb \(g)")
        }
        #expect(bt.frames.first?.method == .initial)
        #expect(bt.frames.dropFirst().allSatisfy { $0.method == .cfi }, "\(bt.frames.map(\.method))")
        #expect(bt.stopReason == Unwinder.endOfStack)
        #expect(ours.last?.name == "_start")
        #expect(bt.frames.filter(\.isSignalFrame).count == 1)
        // CFA of each frame is the caller's stack pointer.
        for (f, caller) in zip(bt.frames, bt.frames.dropFirst()) { #expect(f.cfa == caller.registers[7]) }
    }
}

/// Frame-pointer fallback, stack scan, loops and garbage, on an image with
/// no CFI at all (like Debian's xen-syms) and hand-made stack memory.
@Suite struct UnwinderFallbackTests {
    struct Image {
        let path: String
        let symbols: [String: UInt64]
    }

    static func noCFIImage() throws -> Image {
        let dir = try FixtureCompiler.tempDir()
        let built = try FixtureCompiler.compile(["unwind/crash.c"], output: "crash-cfi", in: dir,
                                                flags: ["-O0", "-fno-omit-frame-pointer", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"])
        let path = dir + "/crash-nocfi"
        try FixtureCompiler.run("objcopy", ["--remove-section=.eh_frame", "--remove-section=.eh_frame_hdr", built, path])
        var symbols: [String: UInt64] = [:]
        for name in ["level4", "handler", "level2", "main"] {
            symbols[name] = try #require(try SymbolizerFixtures.nmSymbol(path, name)).0
        }
        return Image(path: path, symbols: symbols)
    }

    static func registers(rip: UInt64, rsp: UInt64, rbp: UInt64) -> [UInt64] {
        var r = [UInt64](repeating: 0, count: 17)
        r[16] = rip; r[7] = rsp; r[6] = rbp
        return r
    }

    @Test func framePointerChainThenStackScan() throws {
        let img = try Self.noCFIImage()
        let s = img.symbols
        let unwinder = try Unwinder(images: [.init(path: img.path)])
        var mem: [UInt64: UInt64] = [:]
        for a in stride(from: UInt64(0x7ff000), to: 0x7ff100, by: 8) { mem[a] = 0 }
        mem[0x7ff010] = 0x7ff030; mem[0x7ff018] = s["handler"]! + 10
        mem[0x7ff030] = 0x7ff050; mem[0x7ff038] = s["level2"]! + 8
        mem[0x7ff068] = s["main"]! + 5
        let m = mem
        let bt = unwinder.unwind(registers: Self.registers(rip: s["level4"]! + 4, rsp: 0x7ff000, rbp: 0x7ff010)) { m[$0] }
        // The chain ends with a zero return address: a clean end, no scan.
        #expect(bt.frames.map(\.pc) == [s["level4"]! + 4, s["handler"]! + 10, s["level2"]! + 8], "\(bt)")
        #expect(bt.frames.map(\.method) == [.initial, .framePointer, .framePointer])
        #expect(bt.stopReason == Unwinder.endOfStack)
        #expect(bt.frames[1].registers[7] == 0x7ff020)
        #expect(bt.frames[1].registers[6] == 0x7ff030)
        #expect(bt.frames[0].cfa == 0x7ff020)
        let sym = try Symbolizer(path: img.path)
        #expect(bt.frames.map { sym.symbolize($0.lookupAddress).symbol } == ["level4", "handler", "level2"])
    }

    @Test func loopingChainStops() throws {
        let img = try Self.noCFIImage()
        let s = img.symbols
        let unwinder = try Unwinder(images: [.init(path: img.path)])
        // The saved rbp points to itself: every step would give the same frame.
        let mem: [UInt64: UInt64] = [0x7ff000: 0, 0x7ff008: 0, 0x7ff010: 0x7ff010, 0x7ff018: s["handler"]! + 10]
        let bt = unwinder.unwind(registers: Self.registers(rip: s["level4"]! + 4, rsp: 0x7ff000, rbp: 0x7ff010), maxFrames: 64) { mem[$0] }
        #expect(bt.frames.map(\.pc) == [s["level4"]! + 4, s["handler"]! + 10])
        #expect(bt.stopReason == "cannot unwind past 0x\(String(s["handler"]! + 10, radix: 16)): No DWARF information found; stack scanned (0 words)")
    }

    @Test func garbageFramePointerFallsBackToScan() throws {
        let img = try Self.noCFIImage()
        let s = img.symbols
        let unwinder = try Unwinder(images: [.init(path: img.path)])
        let mem: [UInt64: UInt64] = [0x7ff000: 0x9999_9999, 0x7ff008: s["level2"]! + 8, 0x7ff010: 0xffff_ffff_ffff_0000, 0x7ff018: s["main"]! + 5]
        let bt = unwinder.unwind(registers: Self.registers(rip: s["level4"]! + 4, rsp: 0x7ff000, rbp: 0xdead_0000)) { mem[$0] }
        #expect(bt.frames.map(\.pc) == [s["level4"]! + 4, s["level2"]! + 8, s["main"]! + 5], "\(bt)")
        #expect(bt.frames.map(\.method) == [.initial, .stackScan, .stackScan])
        #expect(bt.stopReason.hasSuffix("stack scanned (4 words)"), "\(bt.stopReason)")
        // An initial pc outside every image: still one frame, no crash.
        let lost = unwinder.unwind(registers: Self.registers(rip: 0x42, rsp: 0x7ff000, rbp: 0)) { _ in nil }
        #expect(lost.frames.map(\.pc) == [0x42])
    }
}

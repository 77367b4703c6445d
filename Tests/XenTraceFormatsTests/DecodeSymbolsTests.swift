import Foundation
import Testing
import XenTrace

/// `xenscope trace decode --symbols`: VM-exit RIPs inside a real `-g -O2`
/// program are named `func+0xoff (file:line)`, with the line eu-addr2line
/// gives; data addresses and other events stay unannotated.
@Suite struct DecodeSymbolsTests {
    static let source = """
    #include <stdio.h>
    __attribute__((noinline)) int hot_loop(int n) { int s = 0; for (int i = 0; i < n; i++) s += i * i; return s; }
    __attribute__((noinline)) int handle_io(int port) { return hot_loop(port) ^ 0x5a; }
    int main(int argc, char **argv) { (void)argv; printf("%d\\n", handle_io(argc * 100)); return 0; }
    """

    func tool(_ name: String, _ args: [String]) throws -> String {
        let r = try run("/usr/bin/env", [name] + args)
        try #require(r.status == 0, "\(name) \(args) failed (\(r.status)); is it installed (make test installs it)? \(r.stderr)")
        return String(decoding: r.stdout, as: UTF8.self)
    }

    /// Compiles the guest program into `dir`; returns its path and the
    /// (link-time) addresses of hot_loop and handle_io from nm.
    func compileGuest(in dir: URL) throws -> (prog: String, hot: UInt64, io: UInt64) {
        let src = dir.appendingPathComponent("guest.c").path
        let prog = dir.appendingPathComponent("guest").path
        try Self.source.write(toFile: src, atomically: true, encoding: .utf8)
        _ = try tool("cc", ["-g", "-O2", src, "-o", prog])
        var funcs: [String: UInt64] = [:]
        for line in try tool("nm", [prog]).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3, f[1] == "T", ["hot_loop", "handle_io"].contains(f[2]) { funcs[String(f[2])] = UInt64(f[0], radix: 16) }
        }
        return (prog, try #require(funcs["hot_loop"]), try #require(funcs["handle_io"]))
    }

    @Test func vmexitRipsNamed() throws {
        let exe = try #require(xenscopeBinary(), "xenscope binary not built: run `swift build` first")
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (prog, hot, io) = try compileGuest(in: dir)
        let bias: UInt64 = 0x5555_0000_0000   // as if loaded (PIE) at this base
        let rips: [(String, UInt64)] = [("hot_loop", 4), ("handle_io", 0), ("hot_loop", 4), ("handle_io", 6)]
        var recs: [TraceRecord] = []
        var tsc: UInt64 = 1000
        for (name, off) in rips {
            let rip = bias + (name == "hot_loop" ? hot : io) + off
            recs.append(TraceRecord(cpu: 0, event: 0x0008_1102, tsc: tsc, extra: [0x1e, UInt32(truncatingIfNeeded: rip), UInt32(rip >> 32)]))
            tsc += 100
        }
        // A data address (PF_XEN64 va) equal to a code address: never symbolized.
        recs.append(TraceRecord(cpu: 0, event: 0x0008_2101, tsc: tsc, extra: [UInt32(truncatingIfNeeded: bias + hot), UInt32((bias + hot) >> 32), 2]))
        var w = TraceWriter()
        w.appendWindow(cpu: 0, records: recs)
        let trace = dir.appendingPathComponent("t.xentrace").path
        try Data(w.bytes).write(to: URL(fileURLWithPath: trace))

        let r = try run(exe, ["trace", "decode", "--no-header", "--symbols", "\(prog):0x\(String(bias, radix: 16))", trace])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n")
        try #require(lines.count == 5)
        for (i, (name, off)) in rips.enumerated() {
            let fileAddr = (name == "hot_loop" ? hot : io) + off
            let a2l = try tool("eu-addr2line", ["-f", "-e", prog, "0x" + String(fileAddr, radix: 16)]).split(separator: "\n")
            try #require(a2l.count == 2)
            #expect(a2l[0] == name)
            // eu-addr2line: /path/guest.c:LINE:COL → guest.c:LINE
            let loc = a2l[1].split(separator: "/").last!.split(separator: ":")
            let fn = off == 0 ? name : "\(name)+0x\(String(off, radix: 16))"
            #expect(lines[i].hasSuffix(" [\(fn) (\(loc[0]):\(loc[1]))]"), "\(lines[i])")
        }
        #expect(lines[4].hasPrefix("CPU0  1400 "))
        #expect(!lines[4].contains("["))
        // Without --symbols the lines are exactly the plain decode.
        let plain = try run(exe, ["trace", "decode", "--no-header", trace])
        let stripped = lines.map { $0.split(separator: " [", maxSplits: 1)[0] }
        #expect(String(decoding: plain.stdout, as: UTF8.self).split(separator: "\n").map { Substring($0) } == stripped)
    }

    /// `trace summary --symbols`: each hottest RIP of an exit reason on its own
    /// line with its name; counts as without --symbols.
    @Test func summaryHottestRipsNamed() throws {
        let exe = try #require(xenscopeBinary(), "xenscope binary not built: run `swift build` first")
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (prog, hot, io) = try compileGuest(in: dir)
        // 3 IO_INSTRUCTION (30) exits at hot_loop+0x4, 1 at handle_io; each closed by a VMENTRY.
        var recs: [TraceRecord] = []
        var tsc: UInt64 = 10_000
        for rip in [hot + 4, io, hot + 4, hot + 4] {
            recs.append(TraceRecord(cpu: 0, event: 0x0008_1102, tsc: tsc, extra: [30, UInt32(truncatingIfNeeded: rip), UInt32(rip >> 32)]))
            recs.append(TraceRecord(cpu: 0, event: 0x0008_1001, tsc: tsc + 500, extra: []))
            tsc += 2_000
        }
        var w = TraceWriter()
        w.appendWindow(cpu: 0, records: recs)
        let trace = dir.appendingPathComponent("s.xentrace").path
        try Data(w.bytes).write(to: URL(fileURLWithPath: trace))

        let plain = try run(exe, ["trace", "summary", trace])
        let named = try run(exe, ["trace", "summary", "--symbols", prog, trace])
        let plainText = String(decoding: plain.stdout, as: UTF8.self), namedText = String(decoding: named.stdout, as: UTF8.self)
        #expect(plainText.contains("      hottest RIPs: 0x\(String(hot + 4, radix: 16))×3 0x\(String(io, radix: 16))×1\n"), "\(plainText)")
        let line = { (addr: UInt64) throws -> String in
            let a2l = try tool("eu-addr2line", ["-f", "-e", prog, "0x" + String(addr, radix: 16)]).split(separator: "\n")
            let loc = a2l[1].split(separator: "/").last!.split(separator: ":")
            return "\(loc[0]):\(loc[1])"
        }
        let expected = "      hottest RIPs:\n"
            + "        0x\(String(hot + 4, radix: 16))×3  hot_loop+0x4 (\(try line(hot + 4)))\n"
            + "        0x\(String(io, radix: 16))×1  handle_io (\(try line(io)))\n"
        #expect(namedText.contains(expected), "\(namedText)")
        // Everything else is unchanged.
        #expect(namedText.replacingOccurrences(of: expected, with: "") == plainText.replacingOccurrences(
            of: "      hottest RIPs: 0x\(String(hot + 4, radix: 16))×3 0x\(String(io, radix: 16))×1\n", with: ""))
    }
}

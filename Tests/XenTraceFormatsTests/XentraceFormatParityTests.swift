import Foundation
import Testing

/// `xenscope trace decode --formats F FILE` must print exactly what Xen's
/// xentrace_format prints for `xentrace_format F < FILE` (Debian's copy,
/// converted to Python 3 by scripts/fetch-peers.sh, which `make test` runs).
@Suite(.serialized) struct XentraceFormatParityTests {
    /// Small formats files exercising the %-format corners and xentrace_format's rules.
    static let flagsFormats = """
    # flags, widths, precision, every conversion type
    0x0002800a  %(cpu)3d|%(tsc)-20d|%(reltsc)+8d|%(1)#010x|%(2)o|%(3)X|%(4).3s|%(event)#o|%(5)i|%(6)u|%(7) d
    0x00021011  w=%(1)08x %(2)-5d%% %(7)d %(1)e %(2)g %(3).2f %(4)E %(5)#G %(reltsc)x
    0x00021201  %(1)r %(2)a %(3)5.1s| %(4)-12X| %(5)+#o %(cpu)c
    0x0020100d  hc %(1)d %(1)#x %(2)x %(3)x
    0x0020100e  sub %(1)d %(2)d
    0x0020200e  subcall %(1)d %(2)d
    0x0001f004  irq %(1)d %(2)d %(3)d %(4)d %(reltsc)d
    0x00081102  raw %s
    0x00082101  typeerror %d %(1)d
    0x00080000  unused %(tsc)d
    0x00000000  ?? %(event)x %(1)x %(2)x %(3)x %(4)x %(5)x %(6)x %(7)x
    """
    static let noFallbackFormats = "# no fallback: unknown ids print nothing\r\n0x0002_800a  sw %(1)d %(3)d\r\n0x1f003 cpu %(1)d %(2)d\r\n0x0001f001\t  lost %(1)d (%(tsc)d)\r\n"
    static let secondsFormats = "0x00000000  %(cpu)d %(tsc)d %(tsc)f %(tsc).9f %(tsc)s %(reltsc)d %(event)x\n"

    func tools() throws -> (python: String, script: String, xenscope: String) {
        let script = try #require(xentraceFormatScript(), "xentrace_format.py3 missing: run `make test` (scripts/fetch-peers.sh fetches and converts it)")
        let xs = try #require(xenscopeBinary(), "xenscope binary not built: run `swift build` first")
        return ("/usr/bin/python3", script, xs)
    }

    func compare(formats: String, trace: String, mhz: Int? = nil, label: String) throws {
        let t = try tools()
        var pyArgs = [t.script]
        var ourArgs = ["trace", "decode", "--formats", formats]
        if let mhz { pyArgs += ["-c", String(mhz)]; ourArgs += ["--mhz", String(mhz)] }
        pyArgs.append(formats)
        ourArgs.append(trace)
        let py = try run(t.python, pyArgs, stdinFile: trace)
        #expect(py.status == 0, "xentrace_format failed on \(label): \(py.stderr)")
        let ours = try run(t.xenscope, ourArgs)
        #expect(ours.status == 0, "xenscope failed on \(label): \(ours.stderr)")
        if py.stdout != ours.stdout {
            let a = String(decoding: py.stdout, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let b = String(decoding: ours.stdout, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            Issue.record("\(label): output differs at line \(i + 1) (xentrace_format \(a.count) lines, xenscope \(b.count)):\n  xentrace_format: \(i < a.count ? String(a[i]) : "<end>")\n  xenscope:        \(i < b.count ? String(b[i]) : "<end>")")
        }
    }

    @Test func converterRuns() throws {
        let t = try tools()
        let r = try run(t.python, [t.script])
        // Without arguments it prints its usage to stderr and exits 1: proof the conversion parses.
        #expect(r.status == 1)
        #expect(r.stderr.contains("Usage:"))
    }

    @Test(arguments: ["xen-4.x-public.xentrace", "xen-4.17-qemu-all-dom0-pvdomU-load.xentrace",
                      "xen-4.17-qemu-sched-dom0-pvhdomU.xentrace", "xen-4.17-qemu-arm64-sched-dom0-load.xentrace",
                      "xen-4.17-qemu-arm64-all-dom0-domU-load.xentrace", "xen-4.17-qemu-arm64-sched-dom0-domU-load.xentrace"])
    func realSampleWithCatalogue(sample: String) throws {
        try compare(formats: repoRoot().appendingPathComponent("formats/xenscope.formats").path,
                    trace: samplePath(sample), label: sample)
    }

    @Test func generatedTracesWithSmallFormats() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files: [(String, String)] = [("flags.formats", Self.flagsFormats), ("nofallback.formats", Self.noFallbackFormats)]
        for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        try Self.secondsFormats.write(to: dir.appendingPathComponent("seconds.formats"), atomically: true, encoding: .utf8)
        let catalogue = repoRoot().appendingPathComponent("formats/xenscope.formats").path
        for seed in [1, 2, 3] as [UInt64] {
            let trace = dir.appendingPathComponent("gen\(seed).xentrace")
            try Data(generatedTrace(seed: seed)).write(to: trace)
            try compare(formats: catalogue, trace: trace.path, label: "seed \(seed), xenscope.formats")
            for (name, _) in files {
                try compare(formats: dir.appendingPathComponent(name).path, trace: trace.path, label: "seed \(seed), \(name)")
            }
            try compare(formats: dir.appendingPathComponent("seconds.formats").path, trace: trace.path, mhz: 2400,
                        label: "seed \(seed), seconds.formats -c 2400")
        }
    }

    /// A record cut by the end of the file: both stop silently after the last whole record.
    @Test func truncatedTrace() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = generatedTrace(seed: 9, windows: 6)
        let trace = dir.appendingPathComponent("cut.xentrace")
        try Data(bytes.dropLast(6)).write(to: trace)
        let t = try tools()
        let formats = repoRoot().appendingPathComponent("formats/xenscope.formats").path
        let py = try run(t.python, [t.script, formats], stdinFile: trace.path)
        let ours = try run(t.xenscope, ["trace", "decode", "--formats", formats, trace.path])
        #expect(py.stdout == ours.stdout)
        #expect(ours.stderr.contains("cut.xentrace"))
        #expect(ours.stderr.contains("at byte"))
    }
}

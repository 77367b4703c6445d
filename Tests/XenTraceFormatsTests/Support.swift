import Foundation
import XenTrace

/// The repository root (three levels above this file).
func repoRoot(file: StaticString = #filePath) -> URL {
    URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

func samplePath(_ name: String) -> String { repoRoot().appendingPathComponent("samples/\(name)").path }

/// Output of running a program.
struct RunResult { var stdout: Data; var stderr: String; var status: Int32 }

/// Runs `exe` with `args`, feeding `stdinFile` if given.
func run(_ exe: String, _ args: [String], stdinFile: String? = nil) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    if let stdinFile { p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinFile)) }
    try p.run()
    // Read both pipes concurrently enough: stderr is small, read stdout first to EOF.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(stdout: o, stderr: String(decoding: e, as: UTF8.self), status: p.terminationStatus)
}

/// The `xenscope` binary built beside the test bundle.
func xenscopeBinary() -> String? {
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("xenscope").path)
            dir = dir.deletingLastPathComponent()
        }
    }
    candidates.append(repoRoot().appendingPathComponent(".build/debug/xenscope").path)
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Debian's xentrace_format converted to Python 3 by scripts/fetch-peers.sh.
func xentraceFormatScript() -> String? {
    let env = ProcessInfo.processInfo.environment
    let cache = env["XENSCOPE_CACHE"] ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/xenscope")
    let path = cache + "/peers/xentrace_format.py3"
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// A temporary directory for one test.
func tempDir() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("xenscope-decode-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

/// A deterministic generated trace exercising what xentrace_format has
/// special rules for: records without TSC, a TSC going backwards,
/// HYPERCALL_V2 argument bits, the old 0x1f004 IRQ event, unknown ids,
/// words with the top bit set, 0..7 payload words, several CPUs.
func generatedTrace(seed: UInt64, windows: Int = 40) -> [UInt8] {
    var rng = seed | 1
    func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
    let events: [UInt32] = [0x0002_800a, 0x0002_1011, 0x0002_1201, 0x0002_2215, 0x0002_2203, 0x0002_800e, 0x0002_800f,
                            0x0008_1001, 0x0008_1102, 0x0008_2101, 0x0008_200e, 0x0020_100d, 0x0020_100e, 0x0020_200e,
                            0x0001_f001, 0x0001_f002, 0x0001_f004, 0x0080_1002, 0x0012_3456, 0x0800_f123, 0x0004_1001]
    var w = TraceWriter()
    var tsc: [UInt64] = [1_000_000, 2_000_000, 5_000_000_000_000, 0xffff_ffff_0000]
    for i in 0..<windows {
        let cpu = UInt32(i % 4 == 3 ? 7 : i % 4)   // CPUs 0,1,2,7
        let ci = Int(i % 4)
        var recs: [TraceRecord] = []
        for _ in 0..<(Int(next() % 30) + 1) {
            let e = events[Int(next() % UInt64(events.count))]
            let n = e == 0x0001_f004 ? 3 + Int(next() % 5) : Int(next() % 8)
            var words = (0..<n).map { _ in UInt32(truncatingIfNeeded: next()) }
            if e == 0x0001_f004 { words[0] = words[0] & 0xff; words[2] = words[1] &+ UInt32(next() % 5000) }
            let hasTSC = next() % 5 != 0
            if hasTSC {
                // Mostly forward, sometimes backwards.
                if next() % 23 == 0 { tsc[ci] -= next() % 1000 } else { tsc[ci] += next() % 100_000 }
            }
            recs.append(TraceRecord(cpu: cpu, event: e, tsc: hasTSC ? tsc[ci] : nil, extra: words))
        }
        w.appendWindow(cpu: cpu, records: recs)
    }
    return w.bytes
}

// trace-diff: `xenscope trace diff A.json B.json` reading two saved summaries,
// with JSONDecoder (the way it was) and with the pull reader (SummaryJSON.decode).
//
//   trace-diff [--size 64M] [--runs 3] [--a A.json --b B.json] [--keep]
//
// Without --a/--b it generates two traces with TraceSynthesizer (8 CPUs,
// 2000 domains, 8000 vCPUs, seeds 1 and 2) and saves their summaries as
// JSON (about 41 MB each for 64M traces). Each case runs in a fresh child
// process (so peak RSS, VmHWM, is that case's own), `runs` times; the best
// wall time is printed with its CPU time and the largest peak RSS seen:
//   cat          `cat A B > /dev/null` (reading the bytes, the floor)
//   foundation   Data(contentsOf:) + JSONDecoder for each, then the diff
//   pull         SummaryJSON.decode(path:) (mapped, pull reader) for each, then the diff
// Both decoding cases write the diff's text and JSON to /dev/null and print
// a checksum of them, which must agree.
import BenchSupport
import BinaryIO
import Foundation
import XenTrace
import XenTraceAnalysis

@main
struct TraceDiffBenchmark {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--child" {
            try child(args[1], args[2], args[3])
            return
        }
        var size = 64 << 20, runs = 3, keep = false
        var a: String?, b: String?
        while !args.isEmpty {
            let x = args.removeFirst()
            switch x {
            case "--size": size = parseSize(args.removeFirst())
            case "--runs": runs = Int(args.removeFirst())!
            case "--a": a = args.removeFirst()
            case "--b": b = args.removeFirst()
            case "--keep": keep = true
            default: fatalError("unknown argument \(x)")
            }
        }
        var made: [String] = []
        if a == nil || b == nil {
            for seed in [1, 2] as [UInt64] {
                let base = NSTemporaryDirectory() + "xenscope-bench-diff-\(getpid())-\(seed)"
                var o = TraceSynthesizer.Options()
                o.size = size; o.cpus = 8; o.domains = 2000; o.vcpus = 8000; o.seed = seed
                _ = try TraceSynthesizer(o).write(toPath: base + ".xentrace")
                let s = try Summarizer.summarize(path: base + ".xentrace")
                unlink(base + ".xentrace")
                let fd = open(base + ".json", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                let w = JSONWriter(pretty: true) { buf in buf.write(to: fd) }
                SummaryJSON.write(s, to: w)
                w.flush()
                _ = write(fd, "\n", 1)
                close(fd)
                made.append(base + ".json")
            }
            a = made[0]; b = made[1]
        }
        defer { if !keep { for f in made { unlink(f) } } }
        let sizes = [a!, b!].map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 }
        print("A \(a!): \(sizes[0]) bytes; B \(b!): \(sizes[1]) bytes")
        _ = try spawn(["cat", a!, b!])   // warm the page cache
        var load = [0.0, 0.0, 0.0]
        _ = getloadavg(&load, 3)
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average at start \(String(format: "%.1f", load[0])); best wall of \(runs) runs per case")
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
        print("| case | wall s (best) | CPU s (that run) | peak RSS MiB (max) | output checksum |")
        print("|---|---|---|---|---|")
        var sums: Set<String> = []
        for (name, argv) in [("cat", ["cat", a!, b!]), ("foundation", [me, "--child", "foundation", a!, b!]),
                             ("pull", [me, "--child", "pull", a!, b!])] {
            var best: Run?
            var peak = 0
            for _ in 0 ..< runs {
                let r = try spawn(argv)
                if best == nil || r.seconds < best!.seconds { best = r }
                let f = r.output.split(separator: " ")
                if f.count == 2 { peak = max(peak, Int(f[1].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) }
            }
            let f = best!.output.split(separator: " ")
            let sum = f.count == 2 ? String(f[0]) : "-"
            if sum != "-" { sums.insert(sum) }
            print("| \(name) | \(String(format: "%.3f", best!.seconds)) | \(String(format: "%.3f", best!.cpuSeconds)) | \(peak > 0 ? String(format: "%.1f", Double(peak) / 1024) : "-") | \(sum) |")
        }
        print(sums.count == 1 ? "outputs identical" : "OUTPUTS DIFFER: \(sums)")
        _ = getloadavg(&load, 3)
        print("load average at end \(String(format: "%.1f", load[0]))")
    }

    /// One case in this fresh process: read both summaries, diff, write text
    /// and JSON to /dev/null; prints "checksum vmHWM-KiB".
    static func child(_ how: String, _ a: String, _ b: String) throws {
        func load(_ p: String) throws -> TraceSummary {
            how == "foundation" ? try SummaryJSON.foundationDecode(Data(contentsOf: URL(fileURLWithPath: p)))
                                : try SummaryJSON.decode(path: p)
        }
        let d = SummaryDiff(try load(a), try load(b))
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func eat(_ buf: UnsafeRawBufferPointer) { for x in buf { hash = (hash ^ UInt64(x)) &* 0x100_0000_01b3 } }
        let devnull = open("/dev/null", O_WRONLY)
        let w = JSONWriter(pretty: true, escapeSlashes: true) { buf in buf.withUnsafeBytes { eat($0) }; buf.write(to: devnull) }
        d.writeJSON(to: w)
        w.flush()
        var text = d.render()
        text.withUTF8 { eat(UnsafeRawBufferPointer($0)); _ = write(devnull, $0.baseAddress, $0.count) }
        print("\(String(hash, radix: 16)) \(vmHWMKiB())")
    }

    static func parseSize(_ s: String) -> Int {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let u = s.last.flatMap({ units[$0] }), let n = Int(s.dropLast()) { return n * u }
        return Int(s)!
    }
}

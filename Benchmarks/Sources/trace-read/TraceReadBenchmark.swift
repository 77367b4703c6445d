// trace-read: how fast the xentrace reader goes, beside `cat FILE > /dev/null`.
//
//   trace-read [--size 1G] [--file PATH] [--keep]
//
// Generates a trace with TraceSynthesizer (8 CPUs, 2000 domains, seed 1)
// unless --file is given, reads it once to warm the page cache, then times,
// each in a fresh child process (so peak RSS is that case's own):
//   cat            `cat FILE > /dev/null` (the floor)
//   info           TraceInfo over TraceInput in file order (= `xenscope trace info`)
//   iterate-file   every record through TraceInput.forEachRecord(order: .file)
//   iterate-tsc    the same in TSC order (per-CPU cursors + heap merge)
//   xenscope-info  the built ../.build/release/xenscope trace info, if present
// and prints wall and CPU seconds, MB/s and records/s (per CPU second, which
// a shared machine disturbs less) and peak RSS (VmHWM) per case.
import BenchSupport
import BinaryIO
import Foundation
import XenTrace

@main
struct TraceReadBenchmark {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--child" {
            try child(args[1], args[2])
            return
        }
        var size = 1 << 30
        var file: String? = nil
        var keep = false
        while !args.isEmpty {
            let a = args.removeFirst()
            switch a {
            case "--size": size = parseSize(args.removeFirst())
            case "--file": file = args.removeFirst()
            case "--keep": keep = true
            default: fatalError("unknown argument \(a)")
            }
        }
        var path = file ?? ""
        var genSeconds = 0.0
        if file == nil {
            path = NSTemporaryDirectory() + "xenscope-bench-\(getpid()).xentrace"
            var o = TraceSynthesizer.Options()
            o.size = size
            o.cpus = 8
            o.domains = 2000
            o.seed = 1
            let t0 = now()
            let counts = try TraceSynthesizer(o).write(toPath: path)
            genSeconds = now() - t0
            print("generated \(path): \(counts.bytes) bytes, \(counts.records) records in \(String(format: "%.2f", genSeconds)) s (\(mbps(counts.bytes, genSeconds)) MB/s)")
        }
        defer { if file == nil && !keep { unlink(path) } }
        let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        _ = try spawn(["cat", path])   // warm the page cache
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
        var cases: [(String, [String])] = [
            ("cat", ["cat", path]),
            ("info", [me, "--child", "info", path]),
            ("iterate-file", [me, "--child", "iterate-file", path]),
            ("iterate-tsc", [me, "--child", "iterate-tsc", path]),
        ]
        let cli = URL(fileURLWithPath: me).deletingLastPathComponent()
            .appendingPathComponent("../../../.build/release/xenscope").standardized.path
        if FileManager.default.isExecutableFile(atPath: cli) {
            cases.append(("xenscope-info", [cli, "trace", "info", path]))
        }
        print("file \(bytes) bytes; machine: \(ProcessInfo.processInfo.activeProcessorCount) CPUs")
        var load = [0.0, 0.0, 0.0]
        _ = getloadavg(&load, 3)
        print("load average at start: \(String(format: "%.1f", load[0])) (CPU seconds are less disturbed by other load than wall seconds)")
        print("| case | wall s | CPU s | MB/s (CPU) | records/s (CPU) | peak RSS (MB) | CPU vs cat |")
        print("|---|---|---|---|---|---|---|")
        var catCPU = 0.0
        for (name, argv) in cases {
            let r = try spawn(argv)
            if name == "cat" { catCPU = r.cpuSeconds }
            let fields = r.output.split(separator: " ")
            let records = Int(fields.first ?? "") ?? 0
            let rps = records > 0 ? String(format: "%.1f M", Double(records) / r.cpuSeconds / 1e6) : "-"
            // Children report their own VmHWM (ru_maxrss would include the
            // parent's pre-exec peak); cat and the CLI cannot.
            let hwm = fields.count >= 3 ? String(format: "%.1f", (Double(fields[2].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) / 1024) : "-"
            print("| \(name) | \(String(format: "%.3f", r.seconds)) | \(String(format: "%.3f", r.cpuSeconds)) | \(mbps(bytes, r.cpuSeconds)) | \(rps) | \(hwm) | \(String(format: "%.2fx", r.cpuSeconds / catCPU)) |")
        }
    }

    /// Runs one reading case in this (fresh) process and prints "records checksum".
    static func child(_ what: String, _ path: String) throws {
        let input = try TraceInput.open(path)
        switch what {
        case "info":
            let info = try TraceInfo(input, order: .file)
            print("\(info.totalRecords) \(info.eventCounts.count) \(vmHWMKiB())")
        case "iterate-file", "iterate-tsc":
            var n = 0
            var sum: UInt64 = 0
            try input.forEachRecord(order: what == "iterate-tsc" ? .tsc : .file) { r in
                n += 1
                sum &+= r.tsc ^ UInt64(r.extra.w0)
                return true
            }
            print("\(n) \(sum) \(vmHWMKiB())")
        default:
            fatalError("unknown case \(what)")
        }
    }

    static func mbps(_ bytes: Int, _ seconds: Double) -> String {
        String(format: "%.0f", Double(bytes) / 1e6 / seconds)
    }

    static func parseSize(_ s: String) -> Int {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let u = s.last.flatMap({ units[$0] }), let n = Int(s.dropLast()) { return n * u }
        return Int(s)!
    }
}

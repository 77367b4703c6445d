// Symbolizer benchmark: random addresses in a large debug binary, side by
// side with eu-addr2line, GNU addr2line and llvm-symbolizer in one run.
// Start-up = one address, fresh process (ours: fresh Symbolizer in-process).
// Usage: symbolize [--elf FILE] [--count N] [--eu-count N] [--seed S] [--skip-peers]
// Default FILE: $XENSCOPE_CACHE/symbench/vmlinux-6.1.0-56-amd64 (scripts/fetch-vmlinux.sh).
import DWARF
import ELF
import Foundation
import Synchronization

@main
struct SymbolizeBenchmark {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Runs `tool args < input > /dev/null`; returns wall seconds.
    static func timeTool(_ tool: String, _ args: [String], input: String) throws -> Double {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let t0 = now()
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw NSError(domain: "bench", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "\(tool) failed"]) }
        return now() - t0
    }

    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String) -> String? {
            guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
            defer { args.removeSubrange(i...(i + 1)) }
            return args[i + 1]
        }
        let cache = ProcessInfo.processInfo.environment["XENSCOPE_CACHE"] ?? (NSHomeDirectory() + "/.cache/xenscope")
        let elfPath = option("--elf") ?? cache + "/symbench/vmlinux-6.1.0-56-amd64"
        let count = Int(option("--count") ?? "") ?? 100_000
        let euCount = Int(option("--eu-count") ?? "") ?? 10_000
        var seed = UInt64(option("--seed") ?? "") ?? 1
        let skipPeers = args.contains("--skip-peers")

        // Addresses: uniform over FUNC symbols in executable sections, uniform offset inside each.
        let elf = try ELFFile(path: elfPath)
        let exec = Set(elf.sections.filter { $0.flags & SectionHeader.flagExecute != 0 }.map(\.index))
        let funcs = try elf.symbols().filter { $0.type == ELFSymbol.typeFunction && $0.size > 0 && exec.contains(Int($0.sectionIndex)) }
        func next() -> UInt64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
        let addrs = (0..<count).map { _ -> UInt64 in
            let f = funcs[Int(next() % UInt64(funcs.count))]
            return f.value + next() % f.size
        }
        let dir = NSTemporaryDirectory() + "symbench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let text = addrs.map { "0x" + String($0, radix: 16) }
        try (text.joined(separator: "\n") + "\n").write(toFile: dir + "/all.txt", atomically: true, encoding: .utf8)
        try (text.prefix(euCount).joined(separator: "\n") + "\n").write(toFile: dir + "/eu.txt", atomically: true, encoding: .utf8)
        try (text[0] + "\n").write(toFile: dir + "/one.txt", atomically: true, encoding: .utf8)
        let size = (try? FileManager.default.attributesOfItem(atPath: elfPath)[.size] as? Int) ?? 0
        print("ELF \(elfPath) (\(size / 1_000_000) MB), \(funcs.count) functions, \(count) addresses (eu-addr2line: first \(euCount)), seed \(option("--seed") ?? "1")")
        print("")
        print("| tool | start-up, 1 address (min of 3) | addresses | wall | addresses/s |")
        print("|---|---|---|---|---|")

        let tools: [(String, String, [String], Int)] = [
            ("eu-addr2line", "/usr/bin/eu-addr2line", ["-a", "-f", "-i", "-e", elfPath], euCount),
            ("addr2line (GNU)", "/usr/bin/addr2line", ["-a", "-f", "-i", "-e", elfPath], count),
            ("llvm-symbolizer", "/usr/bin/llvm-symbolizer", ["--obj=" + elfPath, "--print-address"], count),
        ]
        for (name, path, a, n) in tools where !skipPeers {
            guard FileManager.default.isExecutableFile(atPath: path) else { print("| \(name) | missing (\(path)) | | | |"); continue }
            let startup = try (0..<3).map { _ in try timeTool(path, a, input: dir + "/one.txt") }.min()!
            let wall = try timeTool(path, a, input: dir + (n == euCount && name == "eu-addr2line" ? "/eu.txt" : "/all.txt"))
            print("| \(name) | \(fmt(startup)) s | \(n) | \(fmt(wall)) s | \(Int(Double(n) / wall)) |")
        }

        // Ours, in-process: a fresh Symbolizer per measurement (nothing cached between runs).
        var startups: [Double] = []
        for _ in 0..<3 {
            let t0 = now()
            let s = try Symbolizer(path: elfPath)
            _ = s.symbolize(addrs[0]).frames.count
            startups.append(now() - t0)
        }
        var t0 = now()
        let one = try Symbolizer(path: elfPath)
        var frames = 0
        for a in addrs { frames += one.symbolize(a).frames.count }
        let wall1 = now() - t0
        print("| XenScope Symbolizer, 1 thread | \(fmt(startups.min()!)) s | \(count) | \(fmt(wall1)) s | \(Int(Double(count) / wall1)) |")
        // Two workers, one libdw session each (the machine has 2 cores).
        t0 = now()
        let halves = [Array(addrs[..<(count / 2)]), Array(addrs[(count / 2)...])]
        let totals = Mutex([0, 0])
        let paths = elfPath
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            guard let s = try? Symbolizer(path: paths) else { return }
            var n = 0
            for a in halves[i] { n += s.symbolize(a).frames.count }
            totals.withLock { $0[i] = n }
        }
        let wall2 = now() - t0
        print("| XenScope Symbolizer, 2 threads | | \(count) | \(fmt(wall2)) s | \(Int(Double(count) / wall2)) |")
        print("")
        print("frames: \(frames) (1 thread), \(totals.withLock { $0[0] + $0[1] }) (2 threads); load average at end: \(loadAverage())")
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func fmt(_ s: Double) -> String { String(format: s < 1 ? "%.3f" : "%.2f", s) }

    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    }
}

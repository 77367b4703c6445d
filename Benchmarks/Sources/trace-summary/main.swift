// Benchmark: `xenscope trace summary` against `xenalyze --summary` and the
// `cat FILE > /dev/null` floor, on the same generated trace, in one run.
//
// usage: trace-summary [--size 1G] [--cpus 8] [--domains 2000] [--vcpus 8000] [--xenscope PATH] [--xenalyze PATH] [--file PATH]
// Without --xenscope the summary runs in a child of this binary (same library
// code as `xenscope trace summary`, release-built with the benchmark).
// Each tool runs as a child process (stdout to /dev/null); wall time, CPU
// time (user + system) and peak RSS come from wait4(); the load average is
// printed before and after (the build machine is shared). The trace is generated once (TraceSynthesizer) into
// $XENSCOPE_CACHE/bench/ and reused.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XenTrace
import XenTraceAnalysis

let args = Array(CommandLine.arguments.dropFirst())
// Child mode: run the summary in this process (the library `xenscope trace
// summary` calls), render it as the CLI does, and exit. `--child-text` /
// `--child1-text` print the text itself (to compare builds and paths).
if ["--child", "--child1", "--child-text", "--child1-text"].contains(args.first ?? ""), args.count >= 2 {
    var o = SummaryOptions()
    o.threads = args[0].hasPrefix("--child1") ? 1 : 2
    let s = try Summarizer.summarize(path: args[1], options: o)
    let text = SummaryText.render(s)
    if args[0].hasSuffix("-text") { print(text, terminator: "") } else { print(text.utf8.count) }
    exit(0)
}
@MainActor func opt(_ name: String, _ def: String) -> String {
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return def
}
let env = ProcessInfo.processInfo.environment
let cache = env["XENSCOPE_CACHE"] ?? (env["HOME"] ?? "/root") + "/.cache/xenscope"
let sizeArg = opt("--size", "1G")
let cpus = Int(opt("--cpus", "8"))!
let domains = Int(opt("--domains", "2000"))!
let vcpus = Int(opt("--vcpus", "8000"))!
let size: Int = {
    let s = sizeArg.uppercased()
    let mult = s.hasSuffix("G") ? 1 << 30 : s.hasSuffix("M") ? 1 << 20 : 1
    return Int(s.trimmingCharacters(in: CharacterSet(charactersIn: "GM")))! * mult
}()
let file = opt("--file", "\(cache)/bench/synth-\(sizeArg)-\(cpus)cpu-\(domains)dom-\(vcpus)vcpu.xentrace")
let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let xenscope = opt("--xenscope", "")
let xenalyze = opt("--xenalyze", "\(cache)/peers/root/usr/bin/xenalyze")

if !FileManager.default.fileExists(atPath: file) {
    try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    var o = TraceSynthesizer.Options()
    o.size = size; o.cpus = cpus; o.domains = domains; o.vcpus = vcpus; o.seed = 1
    let t0 = Date()
    let c = try TraceSynthesizer(o).write(toPath: file)
    print("generated \(file): \(c.bytes) bytes, \(c.records) records, \(c.lostRecordEvents) lost-record events, in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
}
let bytes = (try FileManager.default.attributesOfItem(atPath: file)[.size] as! NSNumber).doubleValue

/// Runs argv with stdout/stderr to /dev/null; returns (wall s, CPU s, peak RSS in MiB, exit status).
@MainActor func measure(_ argv: [String]) -> (Double, Double, Double, Int32) {
    var fa = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&fa)
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)
    var cargs = argv.map { strdup($0) } + [nil]
    var pid: pid_t = 0
    let t0 = Date()
    let rc = posix_spawn(&pid, argv[0], &fa, nil, &cargs, environ)
    guard rc == 0 else { return (0, 0, 0, -1) }
    var status: Int32 = 0
    var ru = rusage()
    _ = wait4(pid, &status, 0, &ru)
    let dt = Date().timeIntervalSince(t0)
    for p in cargs { free(p) }
    let cpu = Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6 + Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6
    return (dt, cpu, Double(ru.ru_maxrss) / 1024, (status >> 8) & 0xff)
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

print("file: \(file) (\(String(format: "%.0f", bytes / 1e6)) MB), \(cpus) pCPUs, \(domains) domains, \(vcpus) vCPUs")
print("load average before: \(loadAverage()) (\(ProcessInfo.processInfo.activeProcessorCount) CPUs)")
print(String(format: "%-34@ %8@ %8@ %10@ %10@ %12@ %6@", "tool" as NSString, "wall s" as NSString, "CPU s" as NSString, "MB/s wall" as NSString, "MB/s CPU" as NSString, "peak RSS MiB" as NSString, "exit" as NSString))
_ = measure(["/bin/cat", file])   // warm the page cache once
var results: [String: (Double, Double)] = [:]
let ours = xenscope.isEmpty ? [CommandLine.arguments[0], "--child", file] : [xenscope, "trace", "summary", file]
var cases: [(String, [String])] = [("cat FILE > /dev/null", ["/bin/cat", file]),
                                   ("xenscope trace summary", ours)]
if xenscope.isEmpty { cases.append(("xenscope summary, 1 thread", [CommandLine.arguments[0], "--child1", file])) }
if !args.contains("--no-xenalyze") { cases.append(("xenalyze --summary", [xenalyze, "--summary", file])) }
for (name, argv) in cases {
    let (t, cpu, rss, st) = measure(argv)
    results[name] = (t, cpu)
    print(String(format: "%-34@ %8.2f %8.2f %10.0f %10.0f %12.1f %6d", name as NSString, t, cpu, bytes / 1e6 / t, bytes / 1e6 / max(cpu, 1e-3), rss, st))
}
print("load average after: \(loadAverage())")
if let c = results["cat FILE > /dev/null"], let x = results["xenscope trace summary"] {
    print(String(format: "xenscope / cat: %.2fx wall, %.2fx CPU", x.0 / c.0, x.1 / max(c.1, 1e-3)))
    if let a = results["xenalyze --summary"] {
        print(String(format: "xenalyze / xenscope: %.2fx wall, %.2fx CPU", a.0 / x.0, a.1 / x.1))
    }
}

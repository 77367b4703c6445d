// Timing a benchmark case in a child process, so its CPU time and peak RSS
// are that case's own (shared by the trace-read and trace-diff benchmarks).
import Foundation

/// One finished child run: wall and CPU seconds and its captured stdout.
public struct Run {
    public var seconds: Double
    public var cpuSeconds: Double
    public var output: String
}

/// This process's peak resident set (VmHWM in /proc/self/status), KiB; the
/// child cases print it so the parent can report it.
public func vmHWMKiB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

/// Runs `argv` with stdout captured (cat's goes to /dev/null), timing it.
public func spawn(_ argv: [String]) throws -> Run {
    let outPath = NSTemporaryDirectory() + "xenscope-bench-out-\(getpid())"
    defer { unlink(outPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, argv[0] == "cat" ? "/dev/null" : outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let t0 = now()
    guard posix_spawnp(&pid, argv[0], &actions, nil, &cargs, environ) == 0 else { fatalError("cannot run \(argv[0])") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let seconds = now() - t0
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    return Run(seconds: seconds, cpuSeconds: cpu, output: out)
}

/// Monotonic clock, seconds.
public func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

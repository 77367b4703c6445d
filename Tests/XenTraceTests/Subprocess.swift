import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `xenscope` binary built beside the test bundle (`swift build
/// --build-tests` builds it); tests that need it fail clearly without it.
func xenscopeBinary() throws -> String {
    let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // The runner may live inside XenScopePackageTests.xctest/...; walk up.
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("xenscope").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    struct Missing: Error, CustomStringConvertible { var description: String }
    throw Missing(description: "xenscope binary not found near \(exe): run `swift build --build-tests` first (make test does)")
}

/// Result of a finished child process.
struct ChildResult {
    var status: Int32
    /// Peak resident set of the child, in KiB (`ru_maxrss`, i.e. its VmHWM).
    var maxRSSKiB: Int
    var stdout: String
    var stderr: String
}

/// Runs `argv` with stdout and stderr captured in files, and measures the
/// child's peak RSS.
///
/// The measurement goes through a small python3 parent (installed by `make
/// test`): a child spawned straight from this big, multi-threaded test
/// process would be charged this process's resident set, because the peak
/// recorded before `exec` carries over into the child's `ru_maxrss`.
func runMeasured(_ argv: [String]) throws -> ChildResult {
    let script = """
        import resource, subprocess, sys
        rc = subprocess.call(sys.argv[1:])
        sys.stderr.write("\\nXENSCOPE-MAXRSS %d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        sys.exit(rc)
        """
    var r = try runCaptured(["python3", "-c", script] + argv)
    guard let line = r.stderr.split(separator: "\n").last(where: { $0.hasPrefix("XENSCOPE-MAXRSS ") }),
          let kib = Int(line.dropFirst("XENSCOPE-MAXRSS ".count)) else {
        struct NoMeasurement: Error, CustomStringConvertible { var description: String }
        throw NoMeasurement(description: "python3 is needed to measure peak RSS (make test installs it); stderr: \(r.stderr)")
    }
    r.maxRSSKiB = kib
    r.stderr = r.stderr.components(separatedBy: "\nXENSCOPE-MAXRSS ").first ?? r.stderr
    return r
}

/// Runs `argv` with stdout and stderr captured in files.
func runCaptured(_ argv: [String]) throws -> ChildResult {
    let dir = try makeTempDir("child")
    defer { removeDir(dir) }
    let outPath = dir + "/out", errPath = dir + "/err"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, &cargs, environ)
    guard rc == 0 else {
        struct SpawnFailed: Error, CustomStringConvertible { var description: String }
        throw SpawnFailed(description: "cannot run \(argv[0]): \(String(cString: strerror(rc)))")
    }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ChildResult(status: exit, maxRSSKiB: Int(usage.ru_maxrss),
                       stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

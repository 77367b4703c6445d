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
/// child's peak RSS with wait4(2).
func runMeasured(_ argv: [String]) throws -> ChildResult {
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

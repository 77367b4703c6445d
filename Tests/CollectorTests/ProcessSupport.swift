import Foundation
import Testing

/// Directory holding the built products (xenscope, xenscope-trace-producer):
/// the test bundle lives beside them.
func productPath(_ name: String) throws -> String {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    // On Linux the runner is <products>/XenScopePackageTests.xctest.
    for _ in 0..<3 {
        let p = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
        dir = dir.deletingLastPathComponent()
    }
    throw SupportError("\(name) not found beside the test bundle (\(exe.path)); run `swift build --build-tests` first")
}

struct SupportError: Error, CustomStringConvertible {
    let description: String
    init(_ s: String) { description = s }
}

/// A child process with captured stdout/stderr files.
final class Child {
    let process = Process()
    let outPath: String
    let errPath: String

    init(_ exe: String, _ args: [String], dir: String, tag: String) throws {
        outPath = dir + "/\(tag).out"
        errPath = dir + "/\(tag).err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = args
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits for a line containing `text` on stdout (bounded).
    func waitFor(_ text: String, seconds: Double = 30) throws {
        let end = Date().addingTimeInterval(seconds)
        while !stdout.contains(text) {
            if !process.isRunning { throw SupportError("process exited (\(process.terminationStatus)) before printing \(text): \(stderr)") }
            if Date() > end { throw SupportError("no \(text) within \(seconds) s") }
            usleep(10_000)
        }
    }

    /// Waits for exit (bounded; kills on timeout) and returns the status.
    @discardableResult
    func wait(seconds: Double = 60) -> Int32 {
        let end = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < end { usleep(10_000) }
        if process.isRunning { process.interrupt(); kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        return process.terminationStatus
    }
}

/// Per-ring figures the producer program prints when it ends.
struct ProducerReport {
    var produced: [UInt32: UInt64] = [:]
    var written: [UInt32: UInt64] = [:]
    var lost: [UInt32: UInt64] = [:]
    var closeFailed = false

    init(_ text: String) {
        for line in text.split(separator: "\n") where line.hasPrefix("ring ") {
            let f = line.split(separator: " ")
            guard f.count >= 8, let r = UInt32(f[1]), let p = UInt64(f[3]), let w = UInt64(f[5]), let l = UInt64(f[7]) else { continue }
            produced[r] = p; written[r] = w; lost[r] = l
            if line.contains("close-failed") { closeFailed = true }
        }
    }
}

func makeTempDir(_ tag: String) throws -> String {
    let dir = NSTemporaryDirectory() + "xenscope-\(tag)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func uniqueRegionName(_ tag: String) -> String { "xenscope-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

/// Mounts a 1 MiB tmpfs on the existing folder `dir` (needs root); whether it did.
/// Small and of a known size: the disk-full and disk-reserve tests fill it.
func mountSmallTmpfs(_ dir: String, quiet: Bool = false) -> Bool {
    let mount = Process()
    mount.executableURL = URL(fileURLWithPath: "/bin/mount")
    mount.arguments = ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]
    if quiet { mount.standardError = FileHandle.nullDevice }
    guard (try? mount.run()) != nil else { return false }
    mount.waitUntilExit()
    return mount.terminationStatus == 0
}

/// Unmounts what ``mountSmallTmpfs(_:quiet:)`` mounted.
func unmount(_ dir: String) {
    _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [dir]).waitUntilExit()
}

/// The message of a test that cannot run without its tmpfs.
let tmpfsNeedsRoot: Comment = "this test mounts a 1 MiB tmpfs and needs root (make test runs as root)"
